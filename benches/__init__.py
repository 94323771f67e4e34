"""benches: run a fixed matrix of SNN training methods, store JSON records, render a leaderboard.

Importing this package is cheap; the heavy modules (torch, libraries) load on use.
"""

__version__ = "0.1.0"
