"""The metric schema (HELM-style): every column of ``show`` and of the site comes from here."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    key: str  # key in ``record["metrics"]``
    name: str  # column title
    unit: str  # unit shown next to the title ("" for none)
    lower_is_better: bool
    description: str
    scale: float = 1.0  # multiply the stored value by this for display
    digits: int = 2

    def format(self, value: float | None, std: float | None = None) -> str:
        if value is None or value != value:  # None or NaN
            return "–"
        text = f"{value * self.scale:.{self.digits}f}"
        if std is not None and std == std:
            text += f" ± {std * self.scale:.{self.digits}f}"
        return text

    @property
    def title(self) -> str:
        return f"{self.name} ({self.unit})" if self.unit else self.name


MIB = 1.0 / 2**20

METRICS: dict[str, Metric] = {m.key: m for m in (
    Metric("test_top1", "Top-1", "%", False,
           "test accuracy after the last epoch, mean ± std over seeds", 100.0, 2),
    Metric("time_per_iter_s", "Time/iter", "ms", True,
           "median wall-clock time of one training iteration (warm-up excluded)", 1000.0, 1),
    Metric("time_per_iter_iqr_s", "IQR", "ms", True,
           "interquartile range of the iteration time", 1000.0, 1),
    Metric("forward_s", "Forward", "ms", True, "median forward time per iteration", 1000.0, 1),
    Metric("backward_s", "Backward", "ms", True, "median backward time per iteration", 1000.0, 1),
    Metric("optimizer_s", "Optimizer", "ms", True, "median optimizer time per iteration",
           1000.0, 2),
    Metric("samples_per_s", "Throughput", "samples/s", False,
           "training samples per second at the median iteration time", 1.0, 0),
    Metric("activation_bytes", "Activation mem", "MiB", True,
           "peak bytes of tensors held for backward (saved-tensor hooks; deterministic)", MIB, 3),
    Metric("peak_memory_bytes", "Peak mem", "MiB", True,
           "CUDA max allocated on GPU; peak RSS of the cell process on CPU", MIB, 0),
    Metric("cuda_max_allocated_bytes", "CUDA alloc", "MiB", True,
           "max CUDA memory allocated past warm-up, minus model/optimizer baseline", MIB, 1),
    Metric("data_wait_s", "Data wait", "ms", True,
           "median time per timed iteration from the end of the previous step until the next "
           "batch is on the device (loader, plus the host-to-device copy on CUDA)", 1000.0, 2),
    Metric("data_wait_fraction", "Data wait share", "%", True,
           "total data wait / (total data wait + total step time) over the timed iterations "
           "(high: the loader, not the method, sets the pace)", 100.0, 1),
    Metric("train_time_s", "Train time", "s", True,
           "wall-clock time of the training loop, evaluation excluded", 1.0, 1),
    Metric("mean_firing_rate", "Firing rate", "", False,
           "mean spike rate over spiking layers on the test set", 1.0, 3),
    Metric("grad_cosine", "Grad cosine", "", False,
           "cosine similarity of all parameter gradients with BPTT's (same batch/weights)",
           1.0, 3),
    Metric("grad_norm_ratio", "Norm ratio", "", False,
           "gradient norm of the method divided by BPTT's", 1.0, 3),
    Metric("parameters", "Params", "M", True, "trainable parameters", 1e-6, 3),
    Metric("gpu_busy_fraction", "GPU busy", "%", False,
           "share of one profiled iteration's wall time during which the GPU runs kernels or "
           "copies (low: launch-bound)", 100.0, 0),
    Metric("kernels_per_iter", "Kernels/iter", "", True,
           "GPU kernels launched by one training iteration", 1.0, 0),
)}

LEADERBOARD = ("test_top1", "time_per_iter_s", "activation_bytes", "peak_memory_bytes",
               "samples_per_s", "mean_firing_rate")
EFFICIENCY = ("time_per_iter_s", "backward_s", "activation_bytes", "gpu_busy_fraction",
              "kernels_per_iter")
ALIGNMENT = ("grad_cosine", "grad_norm_ratio")
