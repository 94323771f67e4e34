"""The paper-track architectures SLTT and OS publish (preact_resnet18, os_resnet19, vgg11_bn):
parameter counts against the official layer shapes, every built-in method, dropout placement."""

from __future__ import annotations

import pytest
import torch
from helpers import BUILTIN_METHODS, make_cell
from torch import nn

from methods import get_method
from methods.architectures import get_architecture, list_architectures
from methods.architectures.os_resnet import PostAddNormBlock
from methods.architectures.preact_resnet import PreActBlock
from methods.libraries import SpikingNeuron, get_library
from methods.snn.config import LIFConfig
from methods.snn.functional import reset_states, set_step_mode
from methods.snn.layers import LayerFactory, SequenceDropout, count_parameters

CIFAR, CIFAR10_DVS, DVS_GESTURE = (3, 32, 32), (2, 48, 48), (2, 128, 128)

# Parameter counts, by hand from the official layer shapes (conv k×k: cin·cout·k² weights, + cout
# with a bias; BatchNorm: 2 per channel; linear: fin·fout + fout).
#
# preact_resnet18 (qymeng94/SLTT models/spiking_resnet.py spiking_resnet18, CIFAR-10): biased
# block convs, bias-free stem, no norm on the shortcut.
#   stem     3·64·9 = 1_728
#   layer1   2 × (BN 64: 128 + 64·64·9 + 64 + BN 64: 128 + 64·64·9 + 64) = 2 × 74_112 = 148_224
#   layer2   BN 64: 128 + 64·128·9 + 128 + BN 128: 256 + 128·128·9 + 128 + 1×1 64·128 + 128
#              = 128 + 73_856 + 256 + 147_584 + 8_320 = 230_144
#            BN 128: 256 + 147_584 + 256 + 147_584 = 295_680               → 525_824
#   layer3   256 + 128·256·9 + 256 + 512 + 256·256·9 + 256 + 128·256 + 256
#              = 256 + 295_168 + 512 + 590_080 + 33_024 = 919_040
#            512 + 590_080 + 512 + 590_080 = 1_181_184                     → 2_100_224
#   layer4   512 + 256·512·9 + 512 + 1_024 + 512·512·9 + 512 + 256·512 + 512
#              = 512 + 1_180_160 + 1_024 + 2_359_808 + 131_584 = 3_673_088
#            1_024 + 2_359_808 + 1_024 + 2_359_808 = 4_721_664             → 8_394_752
#   final BN 512: 1_024; linear 512·10 + 10 = 5_130
#   1_728 + 148_224 + 525_824 + 2_100_224 + 8_394_752 + 1_024 + 5_130 = 11_176_906
#   BatchNorm channels: 2·(64 + 64) + (64 + 128) + 2·128 + (128 + 256) + 2·256 + (256 + 512)
#     + 2·512 + 512 = 256 + 192 + 256 + 384 + 512 + 768 + 1_024 + 512 = 3_904
#   LIF layers: 2 per block (16) + the final one = 17
PREACT_RESNET18 = 1_728 + 148_224 + 525_824 + 2_100_224 + 8_394_752 + 1_024 + 5_130
#
# os_resnet19 (zhuyaoyu/SNN-online-normalization models/spiking_resnet.py
# online_spiking_resnet19, CIFAR-10): every conv biased, shortcut 1×1 conv → BN.
#   stem     3·128·9 + 128 + BN 256 = 3_840
#   layer1   3 × (2 × (128·128·9 + 128) + 2 BN 256) = 3 × 295_680 = 887_040
#   layer2   128·256·9 + 256 + 256·256·9 + 256 + 128·256 + 256 + 3 BN 512
#              = 295_168 + 590_080 + 33_024 + 1_536 = 919_808
#            2 × (2 × 590_080 + 2 BN 512) = 2 × 1_181_184 = 2_362_368   → 3_282_176
#   layer3   256·512·9 + 512 + 512·512·9 + 512 + 256·512 + 512 + 3 BN 1_024
#              = 1_180_160 + 2_359_808 + 131_584 + 3_072 = 3_674_624
#            2 × 2_359_808 + 2 BN 1_024 = 4_721_664                       → 8_396_288
#   head     (32 → 8 after two stride-2 stages, 2×2 pool → 4×4) 512·16·256 + 256 = 2_097_408,
#            BN1d 256: 512, 256·10 + 10 = 2_570                            → 2_100_490
#   3_840 + 887_040 + 3_282_176 + 8_396_288 + 2_100_490 = 14_669_834
#   BatchNorm channels: 128 + 3·2·128 + (2·256 + 256) + 2·2·256 + (2·512 + 512) + 2·512 + 256
#     = 128 + 768 + 768 + 1_024 + 1_536 + 1_024 + 256 = 5_504
#   LIF layers: stem 1 + 2 per block (16) = 17
OS_RESNET19 = 3_840 + 887_040 + 3_282_176 + 8_396_288 + 2_100_490
#
# vgg11_bn (qymeng94/SLTT models/spiking_vgg_bn.py spiking_vgg11_bn, 2-channel DVS frames):
#   convs    2·64·9 + 64·128·9 + 128·256·9 + 256·256·9 + 256·512·9 + 3·512·512·9
#              = 1_152 + 73_728 + 294_912 + 589_824 + 1_179_648 + 7_077_888 = 9_217_152
#   biases   64 + 128 + 256 + 256 + 4·512 = 2_752; BN 2 · 2_752 = 5_504
#   linear   512·7·7 = 25_088 features: 25_088·10 + 10 = 250_890 (DVS-CIFAR10),
#            25_088·11 + 11 = 275_979 (DVS-Gesture)
#   9_217_152 + 2_752 + 5_504 + 250_890 = 9_476_298; with 11 classes 9_501_387
#   LIF layers: one per conv (8)
VGG11_BN_CONVS = 9_217_152 + 2_752 + 5_504

# name: ((published input shape, classes, parameters) ..., BatchNorm channels, LIF layers)
PUBLISHED = {
    "preact_resnet18": (((CIFAR, 10, PREACT_RESNET18), (CIFAR, 100, PREACT_RESNET18 + 512 * 90
                                                        + 90)), 3_904, 17),
    "os_resnet19": (((CIFAR, 10, OS_RESNET19), (CIFAR, 100, OS_RESNET19 + 256 * 90 + 90)),
                    5_504, 17),
    "vgg11_bn": (((CIFAR10_DVS, 10, VGG11_BN_CONVS + 250_890),
                  (DVS_GESTURE, 11, VGG11_BN_CONVS + 275_979)), 2_752, 8),
}
NAMES = list(PUBLISHED)
# Where the recipe's dropout goes: preact_resnet18 one per block and one before the linear;
# the VGG-11s one after each of their 8 LIF layers; vggsnn and os_resnet19 none.
DROPOUT_LAYERS = {"preact_resnet18": 8 + 1, "os_resnet19": 0, "vgg11_bn": 8, "vgg11": 8,
                  "vggsnn": 0}
OFFICIAL_INIT = {"preact_resnet18": "sltt", "os_resnet19": "os", "vgg11_bn": "sltt"}
"""The init scheme of each architecture's official code (methods.architectures.init)."""
SHAPES = {"preact_resnet18": CIFAR, "os_resnet19": CIFAR, "vgg11_bn": CIFAR10_DVS,
          "vgg11": CIFAR, "vggsnn": CIFAR10_DVS}
T, B = 2, 2


class NoNormFactory(LayerFactory):
    """A factory without normalisation (like OTTT's weight-standardised nets)."""

    def norm(self, channels: int, dims: int = 2) -> nn.Module:
        return nn.Identity()


def factory(cls: type[LayerFactory] = LayerFactory, drop_rate: float = 0.0) -> LayerFactory:
    return cls(get_library("torch"), LIFConfig(), drop_rate)


def run(model: nn.Module, x: torch.Tensor, timesteps: int) -> torch.Tensor:
    set_step_mode(model, "m", timesteps)
    reset_states(model)
    with torch.no_grad():
        return model(x)


def build(method_name: str, name: str, in_shape: tuple[int, ...], classes: int, **recipe):
    dataset = "cifar10" if in_shape == CIFAR else "cifar10_dvs"
    cell = make_cell(method_name, architecture=name, dataset=dataset, timesteps=T, **recipe)
    method = get_method(method_name)(cell)
    return method, method.build(in_shape, classes)


def test_registered_and_documented():
    for name in NAMES:
        assert name in list_architectures()
        arch = get_architecture(name)
        assert arch.description
        assert arch.input_size == "×".join(map(str, PUBLISHED[name][0][0][0][1:]))


@pytest.mark.parametrize("name", NAMES)
def test_parameter_count_of_the_official_model(name):
    published, norm_channels, _ = PUBLISHED[name]
    arch = get_architecture(name)
    for in_shape, classes, params in published:
        assert count_parameters(arch.build(factory(), in_shape, classes)) == params
    # every norm comes from the factory: without it exactly the BatchNorm affine params go
    in_shape, classes, params = published[0]
    no_norm = arch.build(factory(NoNormFactory), in_shape, classes)
    assert count_parameters(no_norm) == params - 2 * norm_channels


@pytest.mark.parametrize("name", NAMES)
def test_every_neuron_is_from_the_factory(name):
    (in_shape, classes, _), *_ = PUBLISHED[name][0]
    model = get_architecture(name).build(factory(), in_shape, classes)
    assert sum(isinstance(m, SpikingNeuron) for m in model.modules()) == PUBLISHED[name][2]


@pytest.mark.parametrize("method_name", BUILTIN_METHODS)
@pytest.mark.parametrize("name", NAMES)
def test_every_method_maps_published_inputs_to_logits(name, method_name):
    for in_shape, classes, _ in PUBLISHED[name][0]:
        method, model = build(method_name, name, in_shape, classes)
        model.eval()
        out = method.predict(model, torch.rand(T, 1, *in_shape))
        assert out.shape == (1, classes)
        assert torch.isfinite(out).all()


@pytest.mark.parametrize("method_name", BUILTIN_METHODS)
@pytest.mark.parametrize("name", NAMES)
def test_every_method_trains_a_step(name, method_name):
    """One training step at the first published size, from the official initialisation,
    reaches every parameter with a finite gradient (the input is scaled so that the neurons
    fire). Batch 4: with 2 samples OS's deeper layers more often stay silent on the first step,
    and a layer whose membrane is then constant gets the OTS ratio (θ − μ)/0 = inf and NaN
    gradients; that is the method's edge case (the official code divides the same way), not
    the architecture's."""
    in_shape, classes, _ = PUBLISHED[name][0][0]
    torch.manual_seed(0)
    method, model = build(method_name, name, in_shape, classes, init=OFFICIAL_INIT[name])
    x_seq = 3 * torch.rand(T, 4, *in_shape)
    loss = method.train_step(model, x_seq, torch.tensor([1, 3, 5, 7]), None)
    assert torch.isfinite(loss)
    for param_name, p in model.named_parameters():
        assert p.grad is not None, param_name
        assert torch.isfinite(p.grad).all(), param_name


@pytest.mark.parametrize("name", NAMES)
def test_any_channels_and_classes(name):
    in_shape = (5, 32, 48)  # non-square: the readouts' flattened maps follow the input
    model = get_architecture(name).build(factory(), in_shape, 7)
    assert run(model, torch.rand(2, *in_shape), 2).shape == (2, 7)


def test_preact_shortcut_carries_the_block_spikes():
    """With the second conv silenced the block returns its own spikes LIF(norm(x)) (identity
    shortcut) or their 1×1 conv (projection), not its input x."""
    torch.manual_seed(0)
    for cin, stride in ((8, 1), (4, 2)):
        block = PreActBlock(factory(), cin, 8, stride)
        block.eval()
        nn.init.zeros_(block.residual[-1].weight)
        nn.init.zeros_(block.residual[-1].bias)
        x = 3 * torch.randn(4, cin, 6, 6)
        out = run(block, x, 1)
        spikes = run(block.pre, x, 1)
        assert set(spikes.unique().tolist()) == {0.0, 1.0}
        expected = spikes if block.shortcut is None else block.shortcut(spikes)
        torch.testing.assert_close(out, expected)


def test_os_block_normalises_the_sum():
    """OS's block: LIF(norm(residual + shortcut)). With the second conv silenced and the norm
    scaling by 4, the identity input 0.3 reaches the neuron as 1.2 and fires; with scale 1 it
    stays below the threshold. (In ``resnet19``'s block the norm sits on the residual branch
    before the add and never touches the identity.)"""
    block = PostAddNormBlock(factory(), 8, 8, 1)
    block.eval()
    nn.init.zeros_(block.residual[-1].weight)
    nn.init.zeros_(block.residual[-1].bias)
    with torch.no_grad():
        block.norm.weight.fill_(4.0)
    out = run(block, torch.full((2, 8, 4, 4), 0.3), 1)
    assert torch.equal(out, torch.ones_like(out))
    with torch.no_grad():
        block.norm.weight.fill_(1.0)
    assert run(block, torch.full((2, 8, 4, 4), 0.3), 1).sum() == 0


def test_os_resnet19_head_has_no_neuron():
    model = get_architecture("os_resnet19").build(factory(), CIFAR, 10)
    head = list(model)[-3:]
    assert [type(m) for m in head] == [nn.Linear, nn.BatchNorm1d, nn.Linear]
    assert head[0].in_features == 512 * 4 * 4


@pytest.mark.parametrize("name", list(DROPOUT_LAYERS))
def test_dropout_placement_and_rate(name):
    in_shape = SHAPES[name]
    arch = get_architecture(name)
    without = arch.build(factory(), in_shape, 10)
    assert not any(isinstance(m, SequenceDropout) for m in without.modules())
    dropouts = [m for m in arch.build(factory(drop_rate=0.5), in_shape, 10).modules()
                if isinstance(m, SequenceDropout)]
    assert len(dropouts) == DROPOUT_LAYERS[name]
    assert all(m.p == 0.5 for m in dropouts)


@pytest.mark.parametrize("name", ["preact_resnet18", "vgg11_bn", "vgg11"])
def test_dropout_changes_the_training_output(name):
    """Training mode with rate 0.5: two draws of the RNG give different outputs, the same draw
    the same output; at rate 0 the draw does not matter."""
    in_shape = SHAPES[name]
    x = 3 * torch.rand(T * B, *in_shape)

    def output(drop_rate: float, seed: int) -> torch.Tensor:
        torch.manual_seed(123)
        model = get_architecture(name).build(factory(drop_rate=drop_rate), in_shape, 10)
        model.train()
        torch.manual_seed(seed)
        return run(model, x, T)

    assert not torch.allclose(output(0.5, 0), output(0.5, 1))
    torch.testing.assert_close(output(0.5, 0), output(0.5, 0))
    torch.testing.assert_close(output(0.0, 0), output(0.0, 1))


@pytest.mark.parametrize("method_name", BUILTIN_METHODS)
def test_recipe_dropout_reaches_every_method(method_name):
    method, model = build(method_name, "vgg11_bn", CIFAR10_DVS, 10, dropout=0.3)
    assert method.layers().drop_rate == 0.3
    rates = [m.p for m in model.modules() if isinstance(m, SequenceDropout)]
    assert rates == [0.3] * 8
