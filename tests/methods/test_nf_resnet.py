"""OTTT's normaliser-free ResNet-34: structure, parameter count and a training step per method."""

from __future__ import annotations

import pytest
import torch
from helpers import make_cell
from torch import nn

from methods import get_method, list_methods
from methods.architectures import get_architecture, list_architectures
from methods.architectures.nf_resnet import ALPHA, GAMMA, NFBlock, SkipInitGain
from methods.libraries import SpikingNeuron
from methods.snn.layers import Scale, count_parameters
from methods.snn.osr import OSRNorm
from methods.snn.rate import RateBatchNorm
from methods.snn.trace import TraceSynapse
from methods.snn.ws import ScaledWSConv2d

SMALL, CLASSES, T, B = (3, 48, 48), 10, 2, 2
ALL_METHODS = ["bptt", "bptt_reset", "ottt_a", "ottt_o", "sltt", "sltt_k", "os", "rate_s",
               "rate_m"]

# Parameters at 224×224 with 1000 classes. The convs are exactly torchvision's ResNet-34 convs:
# torchvision's ResNet-34 has 21_797_672 parameters, of which the fc is 512·1000 + 1000 =
# 513_000 and BatchNorm 2 per channel over 8_512 channels = 17_024, so its conv weights are
# 21_267_648. The NF net replaces each BatchNorm channel by a conv bias and a WS gain (the same
# 2 · 8_512), keeps the fc, and adds one SkipInit scalar per block (16):
#   21_267_648 + 8_512 + 8_512 + 513_000 + 16 = 21_797_688.
# That is the published "ResNet-34, 21.8M parameters" ballpark; the test also asserts the range
# 21.5M–22.0M so that a slip in the exact arithmetic above reads as what it is.
NF_RESNET34_PARAMETERS = 21_797_688
WS_CONVS = 1 + 2 * 16 + 3  # stem, two per block, the three 1×1 shortcuts
NEURONS = 2 * 16


def build(method_name: str, in_shape=SMALL, classes=CLASSES, track: str = "common"):
    cell = make_cell(method_name, architecture="nf_resnet34", dataset="imagenet", timesteps=T,
                     track=track)
    method = get_method(method_name)(cell)
    return method, method.build(in_shape, classes)


def no_normalisation(model: nn.Module) -> bool:
    norms = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm, RateBatchNorm, OSRNorm)
    return not any(isinstance(m, norms) for m in model.modules())


def test_registered():
    assert "nf_resnet34" in list_architectures()
    arch = get_architecture("nf_resnet34")
    assert arch.description and arch.input_size == "224×224"


def test_parameter_count_at_imagenet_size():
    _, model = build("bptt", (3, 224, 224), 1000)
    count = count_parameters(model)
    assert 21_500_000 <= count <= 22_000_000
    assert count == NF_RESNET34_PARAMETERS


@pytest.mark.parametrize("method_name", ALL_METHODS)
def test_structure_whatever_the_method(method_name):
    assert method_name in list_methods()
    _, model = build(method_name)
    assert no_normalisation(model)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == WS_CONVS
    assert all(isinstance(m, ScaledWSConv2d) for m in convs)  # torch library's scaled WS conv
    assert all(m.bias is not None for m in convs)
    neurons = [m for m in model.modules() if isinstance(m, SpikingNeuron)]
    assert len(neurons) == NEURONS
    blocks = [m for m in model.modules() if isinstance(m, NFBlock)]
    assert len(blocks) == 16
    # γ once after every neuron: OTTT's neurons apply it themselves, the others get a Scale
    gammas = sum(isinstance(m, Scale) and m.value == GAMMA for m in model.modules())
    built_in = sum(getattr(m, "scale", None) == GAMMA for m in model.modules())
    assert gammas + built_in == NEURONS
    if method_name.startswith("ottt"):
        synapses = [m for m in model.modules() if isinstance(m, TraceSynapse)]
        assert len(synapses) == WS_CONVS  # the trace-aware synapses stay around the WS convs
    # SkipInit and zero readout: at initialisation every block is the identity
    gains = [m for m in model.modules() if isinstance(m, SkipInitGain)]
    assert len(gains) == 16 and all(g.alpha == ALPHA and g.gain.item() == 0.0 for g in gains)
    assert model[-1].weight.abs().sum() == 0


def test_beta_follows_the_expected_variance():
    _, model = build("bptt")
    betas = [round(b.beta**2, 6) for b in model.modules() if isinstance(b, NFBlock)]
    # variance 1 at the first block, +α² per block, back to 1 + α² after a conv shortcut
    assert betas == [1.0, 1.04, 1.08, 1.12, 1.04, 1.08, 1.12, 1.16, 1.04, 1.08, 1.12, 1.16,
                     1.2, 1.24, 1.04, 1.08]


@pytest.mark.parametrize("method_name", ["bptt", "ottt_a", "sltt", "rate_m"])
def test_training_step(method_name):
    """One step reaches every parameter (multi-step bptt/rate_m, single-step ottt_a/sltt), and
    the method's prediction runs; the readout and SkipInit gains are moved off zero first so
    that gradients reach the convs (at the official init only the readout learns on step 1)."""
    method, model = build(method_name)
    with torch.no_grad():
        nn.init.normal_(model[-1].weight, std=0.05)
        for m in model.modules():
            if isinstance(m, SkipInitGain):
                m.gain.fill_(1.0)
    # i.i.d. noise loses most of its variance in the stem's WS conv and average pool (natural
    # images do not); ×3 makes about 14 % of the neurons fire, down to the last block
    x_seq = 3 * torch.randn(T, B, *SMALL)
    y = torch.tensor([1, 3])
    loss = method.train_step(model, x_seq, y, None)
    assert torch.isfinite(loss)
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
    silent = [n for n, p in model.named_parameters() if p.grad.abs().sum() == 0]
    assert not silent
    model.eval()
    assert method.predict(model, x_seq).shape == (B, CLASSES)


def test_official_init_trains_the_readout_first():
    method, model = build("bptt")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x_seq = 3 * torch.randn(T, B, *SMALL)
    loss = method.train_step(model, x_seq, torch.tensor([0, 1]), optimizer)
    assert torch.isfinite(loss)
    assert model[-1].weight.abs().sum() > 0
