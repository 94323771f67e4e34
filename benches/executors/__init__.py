"""Where cells run: ``local`` (this machine, ``--jobs N``), ``ray`` (a Ray cluster), ``slurm``
(Slurm job arrays through submitit). Same records whichever runs them."""

from .base import CellJob, Executor, Progress
from .local import LocalExecutor
from .ray_cluster import RayExecutor
from .slurm import SlurmExecutor

EXECUTORS = {"local": LocalExecutor, "ray": RayExecutor, "slurm": SlurmExecutor}

__all__ = ["EXECUTORS", "CellJob", "Executor", "LocalExecutor", "Progress", "RayExecutor",
           "SlurmExecutor"]
