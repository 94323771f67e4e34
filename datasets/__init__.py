"""Datasets: one module per dataset, registered by name (entry-point group ``benches.datasets``)."""

from .base import (
    Dataset,
    DatasetUnavailable,
    Splits,
    get_dataset,
    list_datasets,
    register_dataset,
)

__all__ = [
    "Dataset", "DatasetUnavailable", "Splits", "get_dataset", "list_datasets", "register_dataset",
]
