"""Where cells run: ``local`` (this machine, ``--jobs N``), ``ray`` (a Ray cluster), ``slurm``
(Slurm job arrays through submitit), and any an outside package registers. Same records
whichever runs them."""

from benches.run.executors.base import (
    EXECUTORS,
    Executor,
    Progress,
    get_executor,
    list_executors,
    register_executor,
)
from benches.run.executors.local import LocalExecutor
from benches.run.executors.ray_cluster import RayExecutor
from benches.run.executors.slurm import SlurmExecutor
from benches.run.job import CellJob

__all__ = ["EXECUTORS", "CellJob", "Executor", "LocalExecutor", "Progress", "RayExecutor",
           "SlurmExecutor", "get_executor", "list_executors", "register_executor"]
