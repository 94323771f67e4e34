"""The metric schema (HELM-style): every table column, plot axis and legend entry of ``show``
and of the site comes from here; nothing per metric is written anywhere else."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

Better = Literal["lower", "higher"] | None


def missing(value: object) -> bool:
    """Whether a table shows ``value`` as missing: ``None`` or NaN (a pandas gap). Every reader
    asks this, not ``value != value``."""
    return value is None or value != value


def present(value: Any) -> float | None:
    """``value`` as a float, or ``None`` where it is :func:`missing` (plot series, fits)."""
    return None if missing(value) else float(value)


@dataclass(frozen=True)
class Metric:
    key: str  # key in ``record["metrics"]``
    name: str  # column title
    unit: str  # unit shown next to the title ("" for none)
    better: Better  # which direction is better; None: neither (e.g. a firing rate)
    description: str
    scale: float = 1.0  # multiply the stored value by this for display
    digits: int = 2  # display precision (decimals after scaling)

    @property
    def lower_is_better(self) -> bool:
        return self.better == "lower"

    @property
    def arrow(self) -> str:
        """↓ lower is better, ↑ higher is better, empty for neither."""
        return {"lower": "↓", "higher": "↑"}.get(self.better or "", "")

    @property
    def title(self) -> str:
        return f"{self.name} ({self.unit})" if self.unit else self.name

    def display(self, value: float | None) -> float | None:
        """The stored value in display units (``None`` for a missing value)."""
        shown = present(value)
        return None if shown is None else shown * self.scale

    def format(self, value: float | None, std: float | None = None,
               digits: int | None = None) -> str:
        """``value`` (and ``± std``) in display units at ``digits`` (default: the metric's)."""
        shown = self.display(value)
        if shown is None:
            return "–"
        d = self.digits if digits is None else digits
        text = number(shown, d)
        if std is not None and std == std:
            text += f" ± {number(std * self.scale, d)}"
        return text


def number(value: float | None, digits: int, signed: bool = False) -> str:
    """``value`` at ``digits`` decimals, ``+`` before a positive one if ``signed``; "–" for a
    missing value (None or NaN); never "-0.00" nor "+0.00". Every number of show, the site and
    compare is written by this."""
    shown = present(value)
    if shown is None:
        return "–"
    if round(shown, digits) == 0:
        return f"{0.0:.{digits}f}"
    return f"{shown:+.{digits}f}" if signed else f"{shown:.{digits}f}"


def accuracy_digits(test_samples: int | None, default: int = 2) -> int:
    """Decimals of an accuracy in % that a test set of ``test_samples`` images supports: one
    image is 100/n percentage points, so 450 images → 1 decimal (0.22 pp), 10 000 → 2."""
    if not test_samples:
        return default
    return max(0, math.ceil(-math.log10(100.0 / test_samples) - 1e-9))


MIB = 1.0 / 2**20
CONTENDED_LOAD = 1.5
"""A timing is flagged when the load average exceeded this many times the machine's CPUs."""

METRICS: dict[str, Metric] = {m.key: m for m in (
    Metric("test_top1", "Top-1", "%", "higher",
           "test accuracy after the last epoch, mean ± std over seeds; shown to the precision "
           "the test set supports (one image = 100/n pp)", 100.0, 2),
    Metric("time_per_iter_s", "Time/iter", "ms", "lower",
           "median wall-clock time of one training iteration (warm-up excluded)", 1000.0, 1),
    Metric("time_per_iter_iqr_s", "IQR", "ms", "lower",
           "interquartile range of the iteration time", 1000.0, 1),
    Metric("forward_s", "Forward", "ms", "lower", "median forward time per iteration",
           1000.0, 1),
    Metric("backward_s", "Backward", "ms", "lower", "median backward time per iteration",
           1000.0, 1),
    Metric("optimizer_s", "Optimizer", "ms", "lower", "median optimizer time per iteration",
           1000.0, 2),
    Metric("samples_per_s", "Throughput", "samples/s", "higher",
           "training samples per second at the median iteration time", 1.0, 0),
    Metric("activation_bytes", "Activation mem", "MiB", "lower",
           "peak bytes of tensors held for backward in one training iteration (saved-tensor "
           "hooks; deterministic, the same on every machine)", MIB, 3),
    Metric("flops_per_iter", "Train ops", "GFLOP", "lower",
           "floating-point operations of one training iteration (torch's FlopCounterMode on the "
           "first iteration: matrix products and convolutions, forward and backward; "
           "elementwise work counts 0): the same on every machine", 1e-9, 3),
    Metric("flops_forward", "Forward ops", "GFLOP", "lower",
           "the forward phase's share of the iteration's FLOPs", 1e-9, 3),
    Metric("flops_backward", "Backward ops", "GFLOP", "lower",
           "the backward phase's share of the iteration's FLOPs", 1e-9, 3),
    Metric("flops_optimizer", "Optimizer ops", "GFLOP", "lower",
           "the optimizer phase's FLOPs (0 for SGD: elementwise)", 1e-9, 3),
    Metric("energy_uj", "Energy", "µJ/sample", "lower",
           "inference energy of the trained network per test sample, the SNN papers' convention: "
           "0.9 pJ per synaptic operation + 4.6 pJ per multiply-accumulate (Horowitz 2014, "
           "45 nm, fp32), compute only, no memory traffic", 1.0, 3),
    Metric("energy_sj_uj", "Energy (+memory)", "µJ/sample", "lower",
           "spikingjelly's simple energy model per test sample: the same compute plus reading "
           "the weights (its model id is in the record); not comparable with Energy", 1.0, 2),
    Metric("synops", "SynOps", "k/sample", "lower",
           "spike-driven synaptic operations per test sample at inference (spikingjelly's "
           "SynOpCounter: a spike meeting a weight)", 1e-3, 1),
    Metric("macs", "MACs", "k/sample", "lower",
           "multiply-accumulates on real-valued input per test sample (the first layer)",
           1e-3, 1),
    Metric("effective_ops", "Ops", "k/sample", "lower",
           "synaptic operations + multiply-accumulates per test sample: what the weight layers "
           "do executed event-driven (compare Dense MACs)", 1e-3, 1),
    Metric("dense_macs", "Dense MACs", "k/sample", "lower",
           "multiply-accumulates the same network would do executed densely, per test sample",
           1e-3, 1),
    Metric("acs", "ACs", "k/sample", "lower",
           "every accumulate per test sample (synaptic operations plus the additions of "
           "normalisation, pooling and residuals; spikingjelly's ACCounter)", 1e-3, 1),
    Metric("activation_sparsity", "Sparsity", "%", "higher",
           "share of neuron updates without a spike at inference (1 − firing rate over all "
           "spiking layers, on the first 64 test samples)", 100.0, 1),
    Metric("neuron_updates", "Neuron updates", "k/sample", "lower",
           "neuron state updates per test sample (neurons × T)", 1e-3, 1),
    Metric("parameter_bytes", "Param bytes", "MiB", "lower",
           "bytes of the trained parameters", MIB, 3),
    Metric("connection_sparsity", "Zero weights", "%", None,
           "share of the parameters that are exactly zero", 100.0, 1),
    Metric("cuda_max_allocated_bytes", "GPU mem", "MiB", "lower",
           "max CUDA memory allocated by a training iteration past warm-up, minus the model "
           "and optimizer baseline", MIB, 1),
    Metric("peak_memory_bytes", "Process peak", "MiB", "lower",
           "CUDA max allocated on a GPU; on a CPU the peak resident set of the whole cell "
           "process (interpreter and libraries included, so nearly the same for every method)",
           MIB, 0),
    Metric("data_wait_s", "Data wait", "ms", "lower",
           "median time per timed iteration from the end of the previous step until the next "
           "batch is on the device (loader, plus the host-to-device copy on CUDA)", 1000.0, 2),
    Metric("data_wait_fraction", "Data wait share", "%", "lower",
           "total data wait / (total data wait + total step time) over the timed iterations "
           "(high: the loader, not the method, sets the pace)", 100.0, 1),
    Metric("train_time_s", "Train time", "s", "lower",
           "wall-clock time of the training loop, evaluation excluded", 1.0, 1),
    Metric("mean_firing_rate", "Firing rate", "", None,
           "mean spike rate over spiking layers on the test set (neither higher nor lower is "
           "better in itself; fewer spikes mean fewer synaptic operations on neuromorphic "
           "hardware)", 1.0, 3),
    Metric("grad_cosine", "Grad cosine", "", "higher",
           "cosine similarity of all parameter gradients with BPTT's (same batch/weights)",
           1.0, 3),
    Metric("grad_norm_ratio", "Norm ratio", "", None,
           "gradient norm of the method divided by BPTT's (1: same length)", 1.0, 3),
    Metric("parameters", "Params", "M", None, "trainable parameters", 1e-6, 3),
    Metric("gpu_busy_fraction", "GPU busy", "%", "higher",
           "share of one profiled iteration's wall time during which the GPU runs kernels or "
           "copies (low: launch-bound)", 100.0, 0),
    Metric("kernels_per_iter", "Kernels/iter", "", "lower",
           "GPU kernels launched by one training iteration", 1.0, 0),
    Metric("load_average", "Load", "", None,
           "the machine's 1-minute load average while the cell ran, its own threads included "
           f"(above {CONTENDED_LOAD:g} × the CPU count the timings were taken beside other work)",
           1.0, 1),
    Metric("neuron_spike_mismatch", "Spike mismatch", "%", "lower",
           "share of spikes the library's neuron gets wrong against the suite's reference LIF "
           "on a standard input (0 unless the library runs its own closest configuration)",
           100.0, 1),
    Metric("other_cells", "Other cells", "", None,
           "the most other benchmark cells seen running on this machine at once while this one "
           "ran (any but 0: the timings were taken beside other work)", 1.0, 0),
    Metric("test_samples", "Test images", "", None,
           "images in the test set the accuracy is measured on", 1.0, 0),
)}

LEADERBOARD = ("test_top1", "time_per_iter_s", "activation_bytes", "cuda_max_allocated_bytes",
               "flops_per_iter", "energy_uj", "synops", "activation_sparsity",
               "mean_firing_rate")
"""Columns of the leaderboards (those present in the records)."""
EFFICIENCY = ("time_per_iter_s", "backward_s", "activation_bytes", "flops_forward",
              "flops_backward", "gpu_busy_fraction", "kernels_per_iter")
ALIGNMENT = ("grad_cosine", "grad_norm_ratio")
