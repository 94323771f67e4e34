"""Why the common track evaluates with precise BatchNorm statistics (README, "The temporal task").

sltt, sltt_k and rate_s normalise each step with that step's batch statistics during training,
while a BatchNorm's moving average mixes all steps (weighted towards the last ones, updated T
times per batch). Row-coded input has different statistics on every row, so evaluating with the
moving averages disagrees with every step the network was trained on. This benchmark trains the
default matrix's digits_seq cells twice, with ``bn_stats = "running"`` (the moving averages, as
the official codes evaluate) and ``"precise"`` (recomputed with the final weights, the common
track's choice; :mod:`benches.worker.modes.precise_bn`). Claim: with precise statistics every
seed std is ≤ 2 pp and the per-step methods gain more than 3 pp; bptt (BatchNorm over all steps
at once) moves by less than 1.5 pp.

Run: ``pytest tests/benchmarks/test_digits_seq_statistics.py --benchmark-only -s`` (about 2
minutes on 2 cores).
"""

from __future__ import annotations

import statistics

import torch

from benches.plan.matrix import load_matrix
from benches.worker.setup import execute

METHODS = ("sltt", "sltt_k", "rate_s", "bptt")
PROTOCOLS = ("running", "precise")


def measure() -> dict[str, dict[str, list[float]]]:
    out: dict[str, dict[str, list[float]]] = {}
    for protocol in PROTOCOLS:
        matrix = load_matrix("default", {"methods": list(METHODS), "datasets": ["digits_seq"],
                                         "timesteps": [8], "recipe": {"bn_stats": protocol}})
        for cell in {c.key(): c for c in matrix.cells}.values():
            top1 = execute(cell)["test_top1"]
            out.setdefault(cell.method, {p: [] for p in PROTOCOLS})[protocol].append(100 * top1)
    return out


def test_precise_statistics_remove_the_seed_spread(benchmark):
    torch.set_num_threads(2)
    runs = benchmark.pedantic(measure, rounds=1, iterations=1)
    for name, r in runs.items():
        line = {k: f"{statistics.mean(v):.1f} ± {statistics.stdev(v):.1f}" for k, v in r.items()}
        benchmark.extra_info[name] = line
        print(f"{name:8s} running statistics {line['running']:>12s}   "
              f"precise statistics {line['precise']:>12s}")
    for name, r in runs.items():
        assert statistics.stdev(r["precise"]) <= 2.0, name
    for name in ("sltt", "sltt_k", "rate_s"):
        r = runs[name]
        assert statistics.mean(r["precise"]) > statistics.mean(r["running"]) + 3, name
    bptt = runs["bptt"]
    assert abs(statistics.mean(bptt["precise"]) - statistics.mean(bptt["running"])) < 1.5
