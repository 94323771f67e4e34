"""Training recipes: the ``common`` track (one recipe for every method) and ``paper`` tracks.

A :class:`Recipe` holds everything a cell trains with: neuron constants, loss, optimizer,
schedule, budget, augmentation and the timing protocol. Its dict form goes into the record.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from .architectures.init import INIT_SCHEMES
from .snn.config import LIFConfig
from .snn.rate import BN_STATISTICS as RATE_BN_STATISTICS

TRACKS = ("common", "paper")
STAGE_KEYS = ("epochs", "timesteps", "lr", "weight_decay")
"""What a stage may set (``epochs`` required; ``timesteps`` replaces the cell's T)."""
DATA_OPTIONS = ("normalize", "resolution", "train_split")
"""Recipe keys that configure a dataset's pipeline; a dataset reads those in its ``options``."""
LOSSES = ("ce", "ce+mse", "tet")
OMITTED_AT_DEFAULT = {"sync_bn": False, "drop_last": False, "reshuffle": True}
"""Recipe keys added after records were first written: at this value a cell leaves them out."""
BN_STATS = ("precise", "running")
_NEURON = LIFConfig()


@dataclass(frozen=True)
class Recipe:
    """One training recipe (defaults: the ``common`` track)."""

    track: str = "common"
    # neuron: LIFConfig's fields, with its defaults (checked by LIFConfig when the cell builds)
    tau: float = _NEURON.tau
    threshold: float = _NEURON.threshold
    reset: str = _NEURON.reset
    detach_reset: bool = _NEURON.detach_reset
    surrogate: str = _NEURON.surrogate
    alpha: float = _NEURON.alpha
    # loss: "ce" = cross-entropy on the time-averaged output (online methods: CE(o_t)/T per step);
    # "ce+mse" = per step (1 − w)·CE(o_t) + w·MSE(o_t, target), averaged over t;
    # "tet" = TET (Deng et al., ICLR 2022): per step (1 − λ)·CE(o_t) + λ·MSE(o_t, φ), averaged
    # over t, with λ = tet_lambda and φ = tet_phi (the official TET_loss defaults lamb = 1e-3,
    # means = 1.0); needs a method with per-step outputs (Method.no_step_outputs)
    loss: str = "ce"
    mse_weight: float = 0.05
    mse_target: str = "onehot"  # "onehot" or "const" (MSE to mse_const, SLTT/TET style)
    mse_const: float = 1.0
    tet_lambda: float = 1e-3
    tet_phi: float = 1.0
    grad_scale_by_T: bool = False  # rate-BP reference: loss gradient (not value) scaled by 1/T
    # optimisation
    optimizer: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    decay_norm_and_bias: bool = True
    schedule: str = "cosine"
    epochs: int = 300
    batch_size: int = 128
    # data: augmentations by name, applied to the training set only (datasets declare theirs)
    augment: tuple[str, ...] = ("crop", "flip")
    # network: dropout rate of the architecture's dropout layers (where its published code puts
    # them; 0 = none) and the weight initialisation scheme (methods.architectures.init)
    dropout: float = 0.0
    init: str = "default"
    # data pipeline options a dataset may read (its ``options``; others refuse non-defaults):
    # normalisation statistics ("measured" on the training set, or the official codes'
    # constants), frame resolution of event data (0 = the dataset's default), train/test split
    normalize: str = "measured"
    resolution: int = 0
    train_split: str = "standard"
    # OS's online spiking renormalisation: variance epsilon, and the bound on the ratio of the
    # running to the batch inverse std beyond which a step normalises with its batch statistics
    osr_eps: float = 1e-5
    osr_bound: float = 20.0
    # rate_s's BatchNorm value in the rate pass (methods.snn.rate.BN_STATISTICS): "mean" of the
    # per-step statistics, or the "last_step"'s (its variance + ε), as rate-BP's official code
    rate_bn: str = "mean"
    # training in stages (e.g. SLTT's ImageNet: T = 1, then fine-tuning at T = 6): each stage
    # a table with its ``epochs`` and the keys it changes (STAGE_KEYS); each stage starts a
    # fresh optimizer and schedule on the previous stage's weights. Empty: one stage.
    stages: tuple[dict[str, Any], ...] = ()
    # evaluation: BatchNorm statistics from the training-time moving averages ("running") or
    # recomputed with the final weights before each evaluation ("precise", precise_bn mode)
    bn_stats: str = "precise"
    # several ranks (a cell's gpus_per_cell × nodes): BatchNorm statistics over the whole global
    # batch (torch's SyncBatchNorm on CUDA, collectives on a CPU) or each rank's own part
    sync_bn: bool = False
    # leave out each epoch's last, incomplete batch (as a loader's drop_last)
    drop_last: bool = False
    # a new sample order every epoch; false: every epoch the first one (a DistributedSampler
    # never given set_epoch, as rate-BP's ImageNet code)
    reshuffle: bool = True
    # measurement protocol
    warmup_iters: int = 3
    timed_iters: int = 10

    def __post_init__(self) -> None:
        if self.track not in TRACKS:
            raise ValueError(f"track must be one of {TRACKS}, got {self.track!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        if not 0.0 <= self.tet_lambda <= 1.0:
            raise ValueError(f"tet_lambda must be in [0, 1], got {self.tet_lambda}")
        if self.mse_target not in ("onehot", "const"):
            raise ValueError(f"mse_target must be 'onehot' or 'const', got {self.mse_target!r}")
        if self.optimizer not in ("sgd", "adam"):
            raise ValueError(f"optimizer must be 'sgd' or 'adam', got {self.optimizer!r}")
        if self.bn_stats not in BN_STATS:
            raise ValueError(f"bn_stats must be one of {BN_STATS}, got {self.bn_stats!r}")
        if self.schedule not in ("cosine", "constant"):
            raise ValueError(f"schedule must be 'cosine' or 'constant', got {self.schedule!r}")
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be ≥ 1, got {getattr(self, name)}")
        if self.warmup_iters < 0 or self.timed_iters < 1:
            raise ValueError("warmup_iters must be ≥ 0 and timed_iters ≥ 1")
        for stage in self.stages:
            _check_stage(stage)
        if not self.osr_eps > 0 or not self.osr_bound > 0:
            raise ValueError(f"osr_eps and osr_bound must be > 0, got {self.osr_eps}, "
                             f"{self.osr_bound}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.rate_bn not in RATE_BN_STATISTICS:
            raise ValueError(f"rate_bn must be one of {RATE_BN_STATISTICS}, got {self.rate_bn!r}")
        if self.init not in INIT_SCHEMES:
            raise ValueError(f"init must be one of {', '.join(INIT_SCHEMES)}, got {self.init!r}")
        if self.resolution < 0:
            raise ValueError(f"resolution must be ≥ 0 (0: the dataset's), got {self.resolution}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        self.lif()  # validates the neuron constants

    def lif(self, **overrides: Any) -> LIFConfig:
        """The neuron constants of this recipe (``overrides`` e.g. ``detach_reset=False``)."""
        values = {f.name: getattr(self, f.name) for f in fields(LIFConfig)}
        return LIFConfig(**{**values, **overrides})

    def updated(self, **changes: Any) -> Recipe:
        """A copy with ``changes``; unknown keys raise ``ValueError`` naming them."""
        unknown = sorted(set(changes) - {f.name for f in fields(self)})
        if unknown:
            raise ValueError(f"unknown recipe key(s): {', '.join(unknown)}")
        if "stages" in changes:
            stages = changes["stages"]
            if isinstance(stages, (str, dict)) or not all(isinstance(x, dict) for x in stages):
                raise ValueError(f"stages must be a list of tables, got {stages!r}")
            changes["stages"] = tuple(dict(x) for x in stages)
        elif "epochs" in changes and self.stages:  # e.g. --epochs N: every stage gets N
            changes["stages"] = tuple({**x, "epochs": changes["epochs"]} for x in self.stages)
        if "augment" in changes:
            if isinstance(changes["augment"], str) or not all(
                    isinstance(a, str) for a in changes["augment"]):
                raise ValueError(f"augment must be a list of names, got {changes['augment']!r}")
            changes["augment"] = tuple(changes["augment"])
        for key, value in changes.items():
            _check_type(key, value, getattr(self, key))
        return replace(self, **changes)

    def to_dict(self) -> dict:
        """The recipe as plain data; keys added later are left out at their defaults
        (:data:`OMITTED_AT_DEFAULT`), so that cells written before them keep their keys."""
        d = {k: v for k, v in asdict(self).items()
             if k not in OMITTED_AT_DEFAULT or v != OMITTED_AT_DEFAULT[k]}
        d["augment"] = list(self.augment)
        d["stages"] = [dict(x) for x in self.stages]
        return d

    def stage_recipes(self) -> list[tuple[Recipe, int | None]]:
        """Each stage's recipe (one stage, itself, when there are none), with the T the stage
        trains at (``None``: the cell's)."""
        if not self.stages:
            return [(self, None)]
        return [(replace(self, stages=(), **{k: v for k, v in stage.items() if k != "timesteps"}),
                 stage.get("timesteps")) for stage in self.stages]

    @classmethod
    def from_dict(cls, data: dict) -> Recipe:
        return cls().updated(**data)


def _check_stage(stage: dict[str, Any]) -> None:
    unknown = sorted(set(stage) - set(STAGE_KEYS))
    if unknown:
        raise ValueError(f"a stage may set {', '.join(STAGE_KEYS)}, not {', '.join(unknown)}")
    if not isinstance(stage.get("epochs"), int) or isinstance(stage["epochs"], bool) \
            or stage["epochs"] < 1:
        raise ValueError(f"each stage needs epochs ≥ 1 (a whole number), got {stage!r}")
    T = stage.get("timesteps", 1)
    if not isinstance(T, int) or isinstance(T, bool) or T < 1:
        raise ValueError(f"a stage's timesteps must be a whole number ≥ 1, got {T!r}")
    for key in ("lr", "weight_decay"):
        if key in stage and (isinstance(stage[key], bool)
                             or not isinstance(stage[key], (int, float)) or stage[key] < 0):
            raise ValueError(f"a stage's {key} must be a number ≥ 0, got {stage[key]!r}")


def _check_type(key: str, value: Any, current: Any) -> None:
    """``value`` has the kind of the field it replaces (a whole number for an int field, any
    number for a float, true/false for a flag, text for a name)."""
    if isinstance(current, bool):
        ok = isinstance(value, bool)
    elif isinstance(current, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(current, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif isinstance(current, str):
        ok = isinstance(value, str)
    else:
        ok = True
    if not ok:
        kind = {bool: "true or false", int: "a whole number", float: "a number",
                str: "text"}[type(current)]
        raise ValueError(f"{key} must be {kind}, got {value!r}")


COMMON = Recipe()
"""τ = 2, θ = 1, soft reset, sigmoid α = 4, CE on the mean output, SGD 0.9, cosine."""

PAPER = COMMON.updated(track="paper", bn_stats="running")
"""What every paper recipe starts from: the official codes evaluate with the moving averages."""
