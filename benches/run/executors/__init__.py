"""Where cells run: ``local`` (this machine, ``--jobs N``), ``ray`` (a Ray cluster), ``slurm``
(Slurm job arrays through submitit). Same records whichever runs them."""

from benches.run.executors.base import Executor, Progress
from benches.run.executors.local import LocalExecutor
from benches.run.executors.ray_cluster import RayExecutor
from benches.run.executors.slurm import SlurmExecutor
from benches.run.job import CellJob

EXECUTORS = {"local": LocalExecutor, "ray": RayExecutor, "slurm": SlurmExecutor}

__all__ = ["EXECUTORS", "CellJob", "Executor", "LocalExecutor", "Progress", "RayExecutor",
           "SlurmExecutor"]
