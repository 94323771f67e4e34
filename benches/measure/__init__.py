"""Measure: instruments a cell process reads: time per phase, activation and peak memory,
profiles, firing rates, other benchmark cells running at once, and the environment's
provenance.

May import the kernel, torch and ``methods``; nothing else of ``benches``.
"""
