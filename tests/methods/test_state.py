"""Neurons are called as modules (forward hooks see every step), state is declared as memories
and reset one way, ``exact_mode`` replaces no configuration, and the neuron modules import
without a cycle."""

from __future__ import annotations

import ast

import pytest
import torch
from helpers import REPO, make_cell
from torch import nn

from benches.measure.firing import firing_rates
from methods import get_method
from methods.libraries import SpikingNeuron, get_library
from methods.libraries.torch import TorchLIF
from methods.snn.config import LIFConfig
from methods.snn.functional import MemoryModule, exact_mode, reset_states, set_step_mode

T, B, N_IN, N_HID, N_OUT = 4, 5, 6, 7, 3
METHODS = ("bptt", "bptt_reset", "ottt_a", "ottt_o", "sltt", "sltt_k", "os", "rate_s", "rate_m")


def small_model(method):
    f = method.layers()
    return nn.Sequential(f.linear(N_IN, N_HID), f.norm(N_HID, dims=1), f.neuron(),
                         f.linear(N_HID, N_OUT))


def hooked(model):
    """Forward hooks on every library neuron: the number of spike elements each call returned."""
    seen: list[int] = []
    for m in model.modules():
        if isinstance(m, SpikingNeuron):
            m.register_forward_hook(lambda mod, args, out: seen.append(out.numel()))
    return seen


@pytest.mark.parametrize("name", METHODS)
@pytest.mark.parametrize("library", ["torch", "spikingjelly", "snntorch"])
def test_forward_hooks_see_every_spike_of_every_method(name, library):
    """Whichever wrapper a method puts around the neuron, a hook sees all T·B spikes of the
    training forward and of the evaluation."""
    cell = make_cell(name, library, timesteps=T, reset="hard")
    ok, why = get_method(name).supports(cell)
    if not ok:
        pytest.skip(why)
    method = get_method(name)(cell)
    torch.manual_seed(0)
    model = small_model(method).train()
    seen = hooked(model)
    x_seq, y = torch.rand(T, B, N_IN) * 3, torch.randint(0, N_OUT, (B,))
    method.train_step(model, x_seq, y, None)
    assert sum(seen) == T * B * N_HID
    seen.clear()
    method.predict(model.eval(), x_seq)
    assert sum(seen) == T * B * N_HID


class LoopingLIF(TorchLIF):
    """A library whose multi-step call steps through its own module call."""

    def multi_step(self, x_seq):
        self.reset_state()
        self.step_mode = "s"
        try:
            return torch.stack([self(x) for x in x_seq])
        finally:
            self.step_mode = "m"
            self.reset_state()


def test_firing_rates_count_the_outermost_call_only():
    neuron = LoopingLIF(LIFConfig())
    model = nn.Sequential(neuron)
    x_seq = torch.rand(6, 10, 8) * 1.5
    want = float(TorchLIF(LIFConfig()).multi_step(x_seq).mean())
    set_step_mode(model, "m", 6)
    with firing_rates(model) as rates:
        model(x_seq.flatten(0, 1))
    assert rates == {"0": pytest.approx(want)}
    assert not neuron._forward_hooks and not neuron._forward_pre_hooks


def test_firing_rates_survive_a_failing_call():
    neuron = TorchLIF(LIFConfig())
    set_step_mode(neuron, "s", 2)
    with pytest.raises(RuntimeError), firing_rates(neuron):
        neuron(torch.ones(3, 4))
        neuron(torch.ones(3, 5))  # the kept membrane has another shape
    assert not neuron._forward_hooks and not neuron._forward_pre_hooks


@pytest.mark.parametrize("library", ["torch", "spikingjelly", "snntorch"])
def test_exact_mode_reads_a_flag_and_replaces_no_configuration(library):
    cfg = LIFConfig(reset="hard", detach_reset=False)
    neuron = get_library(library).neuron(cfg)
    model = nn.Sequential(neuron)
    assert neuron.cfg is cfg and neuron.config is cfg
    with exact_mode(model):
        assert neuron.exact and neuron.cfg.detach_reset
        assert neuron.config is cfg and not cfg.detach_reset
    assert not neuron.exact and neuron.cfg is cfg


def test_exact_mode_detaches_the_reset_of_the_library_object():
    """spikingjelly's node reads detach_reset at every call: the exact call detaches it, the
    next ordinary call does not."""
    neuron = get_library("spikingjelly").neuron(LIFConfig(detach_reset=False))
    set_step_mode(neuron, "m", 3)
    x = torch.rand(3 * 2, 4) * 2
    with exact_mode(neuron):
        neuron(x)
        assert neuron.node.detach_reset
    neuron(x)
    assert not neuron.node.detach_reset


@pytest.mark.parametrize("name", METHODS)
def test_reset_states_resets_every_memory(name):
    cell = make_cell(name, "spikingjelly", timesteps=T)
    method = get_method(name)(cell)
    model = small_model(method).train()
    x_seq, y = torch.rand(T, B, N_IN) * 3, torch.randint(0, N_OUT, (B,))
    method.train_step(model, x_seq, y, None)
    set_step_mode(model, "s", T)
    reset_states(model)
    model(x_seq[0])  # state kept after a single step
    reset_states(model)
    memories = [m for m in model.modules() if isinstance(m, MemoryModule)]
    assert memories
    for module in memories:
        for key, init in module._memories.items():
            value = getattr(module, key)
            assert value == (init() if callable(init) else init), (type(module).__name__, key)
        if isinstance(module, SpikingNeuron):
            assert module.membrane() is None


def _module_imports(path, name: str, known: set[str]) -> set[str]:
    """The modules of ``known`` that module ``name`` (``methods.x.y``) imports, at top level or
    inside a function (``from package import module`` names the module, not the package)."""
    package = name.rsplit(".", 1)[0] if path.name != "__init__.py" else name
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            parts = package.split(".")
            base = parts[: len(parts) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            submodules = {f"{module}.{a.name}" for a in node.names} & known
            found |= submodules if submodules else {module}
    return found & known


def test_neuron_modules_import_without_a_cycle():
    """methods.snn and methods.libraries import each other one way (function-local imports
    counted): no cycle is held apart by an import inside a function."""
    modules = {}
    for folder in ("snn", "libraries"):
        for path in (REPO / "methods" / folder).glob("*.py"):
            name = f"methods.{folder}" if path.name == "__init__.py" \
                else f"methods.{folder}.{path.stem}"
            modules[name] = path
    graph = {name: _module_imports(path, name, set(modules)) - {name}
             for name, path in modules.items()}
    assert not graph["methods.snn.functional"]  # the base every module builds on

    state: dict[str, int] = {}

    def visit(name, trail):
        state[name] = 1
        for other in sorted(graph[name]):
            if state.get(other) == 1:
                raise AssertionError(" → ".join([*trail, name, other]))
            if other not in state:
                visit(other, [*trail, name])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [])
