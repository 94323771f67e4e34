"""Run: where and how the cells of a plan run. The runner decides what runs (resume, skips),
an executor (``executors/``: local, Ray, Slurm) decides where, a job launches each cell in its
own process with a timeout, and claims keep two runners off one cell.

May import the kernel, ``plan``, ``worker`` (the cell process it launches) and ``measure``.
"""
