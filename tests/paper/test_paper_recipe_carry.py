"""Every value of ``methods/paper_recipes.toml`` reaches what it configures.

For a sample of published setups (every method, every dataset kind) this builds what a
paper-track cell trains with, through the train mode's own code path on small files in the
datasets' exact on-disk formats: the model (architecture, neurons, dropout, initialisation,
OSR), the optimizer and schedule, the loss, the data loader and its transforms and split, and
the matrix cell (architecture, T, K, precision). Each recipe key has a check; a key without one
fails, and so does a sourced value that nothing reads unless the suite already behaves that way
(then it must equal the common recipe's value; inapplicable values are marked ``choice``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from test_datasets_cifar import write_cifar10
from test_datasets_cifar10_dvs import events as dvs_events
from test_datasets_dvs_gesture import events as gesture_events
from test_datasets_dvs_gesture import write_aedat
from test_datasets_imagenet import write_tree
from torch import nn
from torchvision.transforms import v2

import benches.worker.modes.train as train_mode
from benches.cell import Cell
from benches.plan.matrix import load_matrix
from benches.worker.modes import precise_bn
from benches.worker.modes.common import build_model
from datasets import cifar10_dvs as c10dvs
from datasets import get_dataset
from datasets.event_frames import frame_side
from datasets.transforms import Cutout, RandomRoll, ToolboxCutout
from methods import get_method
from methods.architectures import get_architecture
from methods.architectures.init import initialize
from methods.paper_recipes import EXTRA_KEYS, RECIPE_KEYS, PaperSetup, paper_setup
from methods.recipes import COMMON, Recipe
from methods.snn.config import LIFConfig
from methods.snn.layers import SequenceDropout
from methods.snn.loss import sequence_loss, step_loss
from methods.snn.osr import OSRNorm
from methods.snn.rate import RateBatchNorm

SAMPLE = [
    ("bptt", "cifar10"), ("rate_m", "cifar10"), ("rate_s", "cifar10_dvs"),
    ("rate_m", "imagenet"), ("ottt_a", "cifar10"), ("ottt_o", "cifar10_dvs"),
    ("ottt_a", "dvs_gesture"), ("sltt", "cifar10"), ("sltt_k", "dvs_gesture"),
    ("sltt", "imagenet"), ("sltt_k", "cifar10_dvs"), ("os", "cifar10"), ("os", "cifar10_dvs"),
    ("ndot_a", "cifar10"), ("ndot_o", "cifar10_dvs"),
]
"""Every method, and every dataset kind: CIFAR, CIFAR10-DVS, DVS128 Gesture, ImageNet."""

DVS_INDICES = [*range(10), 900, 901]
"""CIFAR10-DVS file indices per class: ``first_900`` and ``standard`` split them differently."""


class Captured(Exception):
    """Raised by the patched loader once the train mode has built everything it trains with."""


@dataclass
class Built:
    """What a paper-track cell of a setup trains with."""

    setup: PaperSetup
    recipe: Recipe
    cell: Cell
    model: nn.Module
    optimizer: torch.optim.Optimizer
    schedule: Any
    batch_size: int
    train: Any
    test: Any
    method: Any
    matrix_cells: list[Cell] = field(default_factory=list)
    train_drop_last: bool = False  # what the train loader was built with
    data_root: Path | None = None

    @property
    def dataset(self) -> str:
        return self.cell.dataset


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    write_cifar10(root)
    write_tree(root / "imagenet")
    for c, name in enumerate(c10dvs.CLASSES):
        folder = root / "cifar10_dvs" / "events_np" / name
        folder.mkdir(parents=True)
        for i in DVS_INDICES:
            np.savez_compressed(folder / f"cifar10_{name}_{i}.npz", **dvs_events(c, i, 400))
    base = root / "dvs_gesture" / "extract" / "DvsGesture"
    base.mkdir(parents=True)
    for user, ranges in (("user01_led", [(1, 0, 1000), (3, 1000, 3000)]),
                         ("user24_led", [(2, 0, 1500), (11, 1500, 3000)])):
        write_aedat(base / f"{user}.aedat", *gesture_events(3000, 0, 3000))
        rows = "\n".join(f"{c},{s},{e}" for c, s, e in ranges)
        (base / f"{user}_labels.csv").write_text(f"class,startTime_usec,endTime_usec\n{rows}\n")
    (base / "trials_to_train.txt").write_text("user01_led.aedat\n")
    (base / "trials_to_test.txt").write_text("user24_led.aedat\n")
    return root


@pytest.fixture(scope="module")
def paper_cells() -> list[Cell]:
    return [c for c in load_matrix("paper").cells if c.recipe["track"] == "paper"]


def build(method_name: str, dataset_name: str, root: Path, paper_cells: list[Cell],
          monkeypatch: pytest.MonkeyPatch) -> Built:
    """Run the train mode for a paper cell of the setup until it has built its loader."""
    setup = paper_setup(method_name, dataset_name)
    assert setup is not None
    cell = next(c for c in paper_cells if (c.method, c.dataset) == (method_name, dataset_name))
    cell = replace(cell, device="cpu", precision="fp32")
    torch.manual_seed(0)
    method = get_method(method_name)(cell)
    dataset = get_dataset(dataset_name)
    model = build_model(method, dataset, torch.device("cpu"))
    seen: dict[str, Any] = {}

    def optimizer(model: nn.Module, recipe: Recipe) -> torch.optim.Optimizer:
        seen["optimizer"] = original_optimizer(model, recipe)
        return seen["optimizer"]

    def schedule(optimizer: torch.optim.Optimizer, recipe: Recipe) -> Any:
        seen["schedule"] = original_schedule(optimizer, recipe)
        return seen["schedule"]

    def loader(data: Any, batch_size: int, shuffle: bool, *args: Any, **kwargs: Any) -> Any:
        # Batches(data, batch_size, shuffle, device, workers, shard, drop_last)
        drop_last = kwargs.get("drop_last", args[3] if len(args) > 3 else False)
        seen.setdefault("loaders", []).append((data, batch_size, shuffle))
        seen.setdefault("drop_last", []).append(drop_last)
        if len(seen["loaders"]) == 2:
            raise Captured
        return None

    original_optimizer, original_schedule = train_mode.make_optimizer, train_mode.make_schedule
    monkeypatch.setattr(train_mode, "make_optimizer", optimizer)
    monkeypatch.setattr(train_mode, "make_schedule", schedule)
    monkeypatch.setattr(train_mode, "Batches", loader)
    with pytest.raises(Captured):
        train_mode.run(method, dataset, model, torch.device("cpu"), data_root=str(root))
    (train, batch_size, shuffled), (test, _, _) = seen["loaders"]
    assert shuffled
    train_drop_last, test_drop_last = seen["drop_last"]
    assert not test_drop_last  # every test sample is evaluated
    return Built(setup, method.recipe, cell, model, seen["optimizer"], seen["schedule"],
                 batch_size, train, test, method,
                 [c for c in paper_cells if (c.method, c.dataset) == (method_name, dataset_name)],
                 train_drop_last, root)


# -- what each key configures ----------------------------------------------------------------
UNUSED = "unused"


def _neurons(b: Built) -> list[LIFConfig]:
    found = [getattr(m, "cfg", None) for m in b.model.modules()]
    configs = [c for c in found if isinstance(c, LIFConfig)]
    assert configs, "no neuron found"
    return configs


def neuron_key(key: str):
    def check(b: Built, value: Any) -> None:
        first_stage = b.recipe.stage_recipes()[0][0]
        assert getattr(first_stage, key) == value
        assert {getattr(c, key) for c in _neurons(b)} == {value}
    return check


def _outputs(b: Built) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(1)
    return torch.randn(3, 8, 10), torch.randint(0, 10, (8,))


def _expected_step(out: torch.Tensor, y: torch.Tensor, r: Recipe) -> torch.Tensor:
    ce = F.cross_entropy(out, y)
    if r.loss == "ce":
        return ce
    target = F.one_hot(y, 10).float() if r.mse_target == "onehot" \
        else torch.full_like(out, r.mse_const)
    return (1 - r.mse_weight) * ce + r.mse_weight * ((out - target) ** 2).mean()


def check_loss(b: Built, value: Any, key: str) -> str | None:
    """The loss the method minimises, recomputed by hand from the file's values."""
    r = b.recipe
    out, y = _outputs(b)
    if b.method.objective == "per_step":
        got = torch.stack([step_loss(o, y, r) for o in out]).mean()
    else:
        got = sequence_loss(out, y, r)
    if r.loss == "ce" and b.method.objective == "sequence":
        want = F.cross_entropy(out.mean(0), y)
    else:
        want = torch.stack([_expected_step(o, y, r) for o in out]).mean()
    torch.testing.assert_close(got, want)
    used = {"loss": True, "mse_weight": r.loss == "ce+mse",
            "mse_target": r.loss == "ce+mse",
            "mse_const": r.loss == "ce+mse" and r.mse_target == "const"}[key]
    if key == "mse_weight" and r.loss == "ce":
        assert value == 0.0  # the file says the codes use no MSE term
        return None
    return None if used else UNUSED


def check_grad_scale(b: Built, value: bool) -> str | None:
    """rate-based BP scales the loss gradient by 1/T: the gradient of a one-layer network
    with the flag equals 1/T times the one without; other methods never scale (value false)."""
    if b.cell.method not in ("rate_m", "rate_s"):
        assert value is False
        return UNUSED
    T = 4
    grads = []
    for flag in (False, True):
        cell = Cell(**{**b.cell.to_dict(), "timesteps": T,
                       "recipe": {**b.cell.recipe, "grad_scale_by_T": flag, "stages": []}})
        method = get_method(cell.method)(cell)
        torch.manual_seed(0)
        f = method.layers()
        net = nn.Sequential(f.linear(9, 20), f.neuron(), f.linear(20, 4))
        torch.manual_seed(1)
        x = torch.randn(T, 8, 9).abs()
        method.train_step(net, x, torch.randint(0, 4, (8,)), optimizer=None)
        grads.append(net[2].weight.grad.clone())
    torch.testing.assert_close(grads[1], grads[0] / T)
    assert value is True
    return None


def check_optimizer(b: Built, key: str, value: Any) -> str | None:
    opt = b.optimizer
    first = b.recipe.stage_recipes()[0][0]
    if key == "optimizer":
        assert type(opt) is {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}[value]
    elif key == "lr":
        assert opt.param_groups[0]["initial_lr"] == pytest.approx(first.lr)
        assert first.lr == value or b.recipe.stages  # a staged recipe: stage 1's
    elif key == "momentum":
        if not isinstance(opt, torch.optim.SGD):
            return UNUSED
        assert {g["momentum"] for g in opt.param_groups} == {value}
    elif key == "weight_decay":
        matrices = [g for g in opt.param_groups if any(p.ndim > 1 for p in g["params"])]
        assert {g["weight_decay"] for g in matrices} == {first.weight_decay}
        assert b.recipe.stages or value == first.weight_decay
    elif key == "decay_norm_and_bias":
        vectors = [g for g in opt.param_groups if all(p.ndim <= 1 for p in g["params"])]
        if value:
            assert not vectors and len(opt.param_groups) == 1
        else:
            assert vectors and {g["weight_decay"] for g in vectors} == {0.0}
    return None


def check_schedule(b: Built, key: str, value: Any) -> None:
    first = b.recipe.stage_recipes()[0][0]
    if key == "schedule":
        assert value == "cosine"
        assert isinstance(b.schedule, torch.optim.lr_scheduler.CosineAnnealingLR)
    else:  # epochs: the cosine runs over the stage's epochs
        assert b.schedule.T_max == first.epochs
        assert b.recipe.stages or first.epochs == value


def _transforms(split: Any) -> list[Any]:
    transform = getattr(split, "transform", None)
    if transform is None:
        return []
    return list(getattr(transform, "transforms", [transform]))


def _flat(ops: list[Any]) -> list[Any]:
    out = []
    for op in ops:
        out += _flat(list(op.transforms)) if isinstance(op, (v2.Compose, v2.RandomChoice)) \
            else [op]
    return out


def _cache(split: Any) -> str:
    return str(split.items[0][1]) if getattr(split, "items", None) else ""


AUGMENTATIONS: dict[str, dict[str, Any]] = {
    "cifar": {"crop": lambda ops, s: any(isinstance(o, v2.RandomCrop) and o.padding == [4] * 4
                                         for o in ops),
              "flip": lambda ops, s: any(isinstance(o, v2.RandomHorizontalFlip) for o in ops),
              "autoaugment": lambda ops, s: any(isinstance(o, v2.AutoAugment) for o in ops),
              "cutout_torchtoolbox": lambda ops, s: any(isinstance(o, ToolboxCutout)
                                                        for o in ops),
              "cutout": lambda ops, s: _before(ops, v2.Normalize, Cutout),
              "cutout_before_normalize": lambda ops, s: _before(ops, Cutout, v2.Normalize)},
    "imagenet": {"crop": lambda ops, s: any(isinstance(o, v2.RandomResizedCrop) and
                                            o.size == (224, 224) for o in ops),
                 "flip": lambda ops, s: any(isinstance(o, v2.RandomHorizontalFlip)
                                            for o in ops)},
    "events": {"flip": lambda ops, s: any(isinstance(o, v2.RandomHorizontalFlip) for o in ops),
               "roll": lambda ops, s: any(isinstance(o, RandomRoll) for o in ops),
               "ottt_dvs": lambda ops, s: "_pil8" in _cache(s) and any(
                   isinstance(o, v2.RandomCrop) and o.padding == [4] * 4 for o in ops),
               "sltt_dvs": lambda ops, s: "_pil8" in _cache(s) and not ops,
               "os_dvs": lambda ops, s: any(isinstance(o, v2.RandomResizedCrop)
                                            and o.scale == (0.7, 1.0) for o in ops)},
}


def _before(ops: list[Any], first: type, then: type) -> bool:
    kinds = [type(o) for o in ops]
    return first in kinds and then in kinds and kinds.index(first) < kinds.index(then)


def _kind(dataset: str) -> str:
    return {"cifar10": "cifar", "cifar100": "cifar", "imagenet": "imagenet"}.get(dataset,
                                                                                   "events")


def check_augment(b: Built, value: list[str]) -> None:
    ops = _flat(_transforms(b.train))
    checks = AUGMENTATIONS[_kind(b.dataset)]
    for name in value:
        assert checks[name](ops, b.train), name
    pipelines = {"ottt_dvs", "sltt_dvs", "os_dvs"}
    for name, present in checks.items():  # and nothing the recipe does not name (a paper's
        # DVS pipeline brings its own flip or roll; the two cutouts share one transform type)
        if name not in value and name not in ("cutout", "cutout_before_normalize") \
                and not pipelines & set(value):
            assert not present(ops, b.train), name
    if not value and _kind(b.dataset) == "events":
        assert not [o for o in ops if not isinstance(o, v2.Normalize)]


OFFICIAL = {"cifar10": ((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)),
            "official_cifar10": ((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)),
            "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
            "cifar10_dvs": ((0.2728, 0.1295), (0.2225, 0.1290))}
"""The constants the official codes normalise with (pkuxmq/OTTT-SNN train_cifar.py,
train_cifar10dvs.py; qymeng94/SLTT train_SLTT.py; the usual ImageNet statistics)."""


def check_normalize(b: Built, value: str) -> None:
    norms = [o for o in _flat(_transforms(b.train)) if isinstance(o, v2.Normalize)]
    tests = [o for o in _flat(_transforms(b.test)) if isinstance(o, v2.Normalize)]
    if value == "none":
        assert not norms and not tests
        return
    key = value if value == "official_cifar10" else b.dataset
    mean, std = OFFICIAL[key]
    for norm in (norms[-1], tests[-1]):
        assert norm.mean == pytest.approx(list(mean)) and norm.std == pytest.approx(list(std))


def check_resolution(b: Built, value: int) -> str | None:
    if _kind(b.dataset) != "events":
        assert value == 0
        return UNUSED
    side = frame_side(value)
    x, _ = b.test[0]
    assert tuple(x.shape) == (b.cell.timesteps, 2, side, side)
    return None


def check_train_split(b: Built, value: str) -> str | None:
    if b.dataset != "cifar10_dvs":
        assert value == "standard"
        return UNUSED
    indices = {c10dvs.file_index(f.name) for f, _, _ in b.train.items}
    tests = {c10dvs.file_index(f.name) for f, _, _ in b.test.items}
    assert (indices, tests) == ({*range(10), 900} if value == "standard" else set(range(10)),
                                {901} if value == "standard" else {900, 901})
    return None


def check_dropout(b: Built, value: float) -> None:
    rates = {m.p for m in b.model.modules() if isinstance(m, SequenceDropout)}
    assert rates == ({value} if value else set())
    assert not any(isinstance(m, nn.Dropout) for m in b.model.modules())


def check_init(b: Built, value: str) -> None:
    """The built model equals the architecture initialised with the scheme by hand (same
    seed), and a scheme other than PyTorch's changes the weights."""
    torch.manual_seed(0)
    again = get_method(b.cell.method)(b.cell)
    shape = get_dataset(b.dataset).input_shape(
        **{k: getattr(b.recipe, k) for k in get_dataset(b.dataset).options})
    torch.manual_seed(5)
    built = again.build(shape, get_dataset(b.dataset).num_classes)
    torch.manual_seed(5)
    arch = get_architecture(b.cell.architecture)
    by_hand = arch.build(again.layers(), shape, get_dataset(b.dataset).num_classes)
    plain = {k: v.clone() for k, v in by_hand.state_dict().items()}
    initialize(by_hand, value)
    for key, tensor in built.state_dict().items():
        torch.testing.assert_close(tensor, by_hand.state_dict()[key], msg=key)
    changed = any(not torch.equal(plain[k], v) for k, v in by_hand.state_dict().items())
    assert changed == (value != "default")


def check_osr(b: Built, key: str, value: float) -> str | None:
    norms = [m for m in b.model.modules() if isinstance(m, OSRNorm)]
    if b.cell.method != "os":
        return UNUSED
    attribute = {"osr_eps": "eps", "osr_bound": "bound"}[key]
    assert norms and {getattr(m, attribute) for m in norms} == {value}
    return None


def check_rate_bn(b: Built, value: str) -> None:
    """rate_s's BatchNorm layers hand the rate pass the statistics the setup names (what each
    computes: tests/paper/test_rate_s_paper_bn.py)."""
    norms = [m for m in b.model.modules() if isinstance(m, RateBatchNorm)]
    assert b.cell.method == "rate_s"  # only rate_s's setups give it (paper_recipes.ONLY_FOR)
    assert norms and {m.stats for m in norms} == {value}


def check_bn_stats(b: Built, value: str) -> None:
    context = precise_bn.evaluation_statistics(b.method, b.model, get_dataset(b.dataset), None)
    assert value == "running"
    assert type(context).__name__ == "nullcontext"


def check_stages(b: Built, value: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []

    def stage(method: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        seen.append({"epochs": method.recipe.epochs, "timesteps": method.T,
                     "lr": method.recipe.lr, "weight_decay": method.recipe.weight_decay})
        return {"test_top1_curve": [0.0], "train_loss_curve": [0.0], "train_time_s": 0.0,
                "iterations": 0, "test_top1": 0.0}

    monkeypatch.setattr(train_mode, "run_stage", stage)
    train_mode.run(b.method, get_dataset(b.dataset), b.model, torch.device("cpu"))
    assert seen == [{"epochs": s["epochs"], "timesteps": s.get("timesteps", b.cell.timesteps),
                     "lr": s.get("lr", b.recipe.lr),
                     "weight_decay": s.get("weight_decay", b.recipe.weight_decay)}
                    for s in value]


def check_drop_last(b: Built, value: bool) -> None:
    assert b.train_drop_last is value


def check_reshuffle(b: Built, value: bool) -> None:
    """The train stage draws each epoch's order from the recipe it trains with."""
    assert b.method.recipe.reshuffle is value


def check_sync_bn(b: Built, value: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """On several ranks the train mode synchronises BatchNorm exactly when the setup says so
    (a stage built as rank 0 of 2; the collectives themselves: tests/harness)."""
    synced: list[nn.Module] = []
    with monkeypatch.context() as m:
        m.setattr(train_mode, "world", lambda: SimpleNamespace(rank=0, size=2, main=True))
        m.setattr(train_mode, "synchronise_batchnorm",
                  lambda model, device: synced.append(model) or model)
        m.setattr(train_mode, "synchronise_steps", lambda optimizer, here: None)
        m.setattr(train_mode, "Batches", lambda *args, **kwargs: None)
        train_mode.Stage(b.method, get_dataset(b.dataset), b.model, torch.device("cpu"),
                         str(b.data_root))
    assert b.recipe.sync_bn is value and bool(synced) is value


def check_world_size(b: Built, value: int) -> None:
    """Information (the ranks of the published run): a cell trains with its matrix's
    gpus_per_cell × nodes; what carries over is the global batch, which splits over it."""
    assert isinstance(value, int) and value >= 1 and b.batch_size % value == 0
    assert b.dataset == "imagenet"  # the only dataset an official code trains on several GPUs


def check_cells(b: Built, key: str, value: Any) -> None:
    cells = b.matrix_cells
    assert cells
    if key == "rows":
        assert {(c.architecture, c.timesteps) for c in cells} == \
            {(r["architecture"], r["timesteps"]) for r in value}
    elif key == "params":
        assert {tuple(sorted(c.params.items())) for c in cells} == \
            {tuple(sorted(value.items()))}
    else:  # amp: the official run's mixed precision is the suite's bf16 autocast
        assert {c.precision for c in cells} == {"bf16" if value else "fp32"}


def check(b: Built, key: str, value: Any, monkeypatch: pytest.MonkeyPatch) -> str | None:
    """Check ``key``; ``UNUSED`` where it does not apply to this method or dataset."""
    if key in ("tau", "threshold", "reset", "detach_reset", "surrogate", "alpha"):
        neuron_key(key)(b, value)
        return None
    if key in ("loss", "mse_weight", "mse_target", "mse_const"):
        return check_loss(b, value, key)
    if key == "grad_scale_by_T":
        return check_grad_scale(b, value)
    if key in ("optimizer", "lr", "momentum", "weight_decay", "decay_norm_and_bias"):
        return check_optimizer(b, key, value)
    if key in ("schedule", "epochs"):
        check_schedule(b, key, value)
        return None
    if key == "batch_size":
        assert b.batch_size == value
        return None
    if key in ("osr_eps", "osr_bound"):
        return check_osr(b, key, value)
    if key in ("rows", "params", "amp"):
        check_cells(b, key, value)
        return None
    checks = {"augment": check_augment, "normalize": check_normalize,
              "resolution": check_resolution, "train_split": check_train_split,
              "dropout": check_dropout, "init": check_init, "bn_stats": check_bn_stats,
              "rate_bn": check_rate_bn, "drop_last": check_drop_last,
              "reshuffle": check_reshuffle,
              "world_size": check_world_size}
    if key == "stages":
        check_stages(b, value, monkeypatch)
        return None
    if key == "sync_bn":
        check_sync_bn(b, value, monkeypatch)
        return None
    return checks[key](b, value)  # KeyError: a recipe key nothing checks


KNOWN = RECIPE_KEYS | EXTRA_KEYS


@pytest.mark.parametrize("method_name, dataset_name", SAMPLE)
def test_every_value_of_the_setup_reaches_what_it_configures(
        method_name: str, dataset_name: str, data_root: Path, paper_cells: list[Cell],
        monkeypatch: pytest.MonkeyPatch) -> None:
    torch.set_num_threads(1)
    built = build(method_name, dataset_name, data_root, paper_cells, monkeypatch)
    assert set(built.setup.values) <= KNOWN
    for key, sourced in sorted(built.setup.values.items()):
        outcome = check(built, key, sourced.value, monkeypatch)
        if outcome == UNUSED:  # nothing reads it: the suite must already behave that way
            common = getattr(COMMON, key, None)
            assert sourced.choice or sourced.value == common, \
                f"{method_name} on {dataset_name}: {key} = {sourced.value!r} is published " \
                f"but nothing reads it"


def test_the_sample_covers_every_method_and_dataset_kind() -> None:
    from helpers import BUILTIN_METHODS

    from methods.paper_recipes import all_setups

    published = {s.method for s in all_setups()}  # bptt_reset, bptt_ckpt, fptt: none here
    assert published < set(BUILTIN_METHODS) and {m for m, _ in SAMPLE} == published
    assert {_kind(d) for _, d in SAMPLE} == {"cifar", "imagenet", "events"}
    assert {d for _, d in SAMPLE} >= {"cifar10", "cifar10_dvs", "dvs_gesture", "imagenet"}
