"""benches: run a fixed matrix of SNN training methods, store JSON records, render a leaderboard.

The data path, one folder a stage: ``plan`` (matrix → cells) → ``run`` (runner, executors,
the job that launches each cell in its own process) → ``worker`` (the cell process: setup, the
cell's mode, the step runner, checkpoints) with ``measure`` (time, memory, firing, provenance)
→ a record → ``report`` (frames, tables, show, compare) and ``site``; ``commands`` holds one
module per CLI command. The modules at this level are the kernel, plain data every stage
shares: :mod:`.cell`, :mod:`.registry`, :mod:`.records`, :mod:`.schema`, :mod:`.errors`,
:mod:`.atomic`. The kernel imports nothing else of ``benches`` (``methods`` and ``datasets``
import only the kernel), and readers (``report``, ``site``) need no torch.

Importing this package is cheap; the heavy modules (torch, libraries) load on use.
"""

__version__ = "0.1.0"
