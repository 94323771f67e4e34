"""The published architectures: parameter counts, shapes, factory-only layers."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from methods.architectures import get_architecture, list_architectures
from methods.libraries import SpikingNeuron, get_library
from methods.snn.config import LIFConfig
from methods.snn.functional import reset_states, set_step_mode
from methods.snn.layers import LayerFactory, count_parameters

CIFAR, DVS, IMAGENET = (3, 32, 32), (2, 48, 48), (3, 224, 224)

# name: (published input shape, classes, parameters with BatchNorm, BatchNorm channels, LIF layers)
#
# conv3×3 weights of the 8 VGG convs (64, 128, 256, 256, 512, 512, 512, 512 channels) after the
# first: 64·128·9 + 128·256·9 + 256·256·9 + 256·512·9 + 3·512·512·9
#   = 73_728 + 294_912 + 589_824 + 1_179_648 + 7_077_888 = 9_216_000; their biases sum to 2_752
# channels and BatchNorm has 2 per channel (5_504).
#   vgg11  (3 in):  3·64·9 = 1_728; linear 512·10 + 10 = 5_130
#     9_216_000 + 1_728 + 2_752 + 5_504 + 5_130 = 9_231_114
#   vggsnn (2 in):  2·64·9 = 1_152; the 48×48 map is 3×3 after 4 pools: linear 4_608·10 + 10
#     9_216_000 + 1_152 + 2_752 + 5_504 + 46_090 = 9_271_498
# resnet18: the CIFAR ResNet-18 with basic blocks and a 3×3 stem, no conv bias: 11_173_962
#   (the figure of torchvision-style CIFAR ResNet-18s). BatchNorm channels: stem 64, two per
#   block 2·(2·64 + 2·128 + 2·256 + 2·512) = 3_840, shortcuts 128 + 256 + 512 → 4_800.
# resnet19: stem 3·128·9 + BN 256 = 3_712
#   layer1 3 × (2·128·128·9 + BN 512) = 886_272
#   layer2 128·256·9 + 256·256·9 + BN 1_024 + shortcut 128·256 + BN 512 = 919_040,
#          + 2 × (2·256·256·9 + BN 1_024) = 2_361_344 → 3_280_384
#   layer3 256·512·9 + 512·512·9 + BN 2_048 + shortcut 256·512 + BN 1_024 = 3_673_088,
#          + (2·512·512·9 + BN 2_048) = 4_720_640 → 8_393_728
#   head   512·256 + 256 + 256·10 + 10 = 133_898
#   3_712 + 886_272 + 3_280_384 + 8_393_728 + 133_898 = 12_697_994
#   BatchNorm channels: 128 + 3·2·128 + 3·2·256 + 256 + 2·2·512 + 512 = 5_248.
# resnet34: torchvision's ResNet-34 has 21_797_672 parameters for 1000 classes with the same
#   convs, BatchNorms and fc; the SEW-34 of rate-BP/OS adds conv biases: stem 64, 3·2·64,
#   4·2·128 + 128, 6·2·256 + 256, 3·2·512 + 512 (the shortcut 1×1 convs) = 8_512
#   → 21_806_184. BatchNorm channels are the same 8_512.
# LIF layers: VGGs one per conv (8); resnet18 stem + 2 per block (1 + 16); resnet19 the same
#   plus one in the head (1 + 16 + 1); resnet34 stem + 2 per block + one per shortcut
#   (1 + 32 + 3).
PUBLISHED = {
    "vgg11": (CIFAR, 10, 9_231_114, 2_752, 8),
    "vggsnn": (DVS, 10, 9_271_498, 2_752, 8),
    "resnet18": (CIFAR, 10, 11_173_962, 4_800, 17),
    "resnet19": (CIFAR, 10, 12_697_994, 5_248, 18),
    "resnet34": (IMAGENET, 1000, 21_806_184, 8_512, 36),
}
NAMES = list(PUBLISHED)


class NoNormFactory(LayerFactory):
    """A method's factory without normalisation (like OTTT's weight-standardised nets)."""

    def norm(self, channels: int, dims: int = 2) -> nn.Module:
        return nn.Identity()


def factory(cls: type[LayerFactory] = LayerFactory) -> LayerFactory:
    return cls(get_library("torch"), LIFConfig())


def run(model: nn.Module, in_shape: tuple[int, ...], timesteps: int, batch: int) -> torch.Tensor:
    set_step_mode(model, "m", timesteps)
    reset_states(model)
    with torch.no_grad():
        return model(torch.rand(timesteps * batch, *in_shape))


def test_registered_and_documented():
    names = list_architectures()
    for name in NAMES:
        assert name in names
        arch = get_architecture(name)
        assert arch.description
        assert arch.input_size == "×".join(map(str, PUBLISHED[name][0][1:]))


@pytest.mark.parametrize("name", NAMES)
def test_parameter_count(name):
    in_shape, classes, params, norm_channels, _ = PUBLISHED[name]
    arch = get_architecture(name)
    assert count_parameters(arch.build(factory(), in_shape, classes)) == params
    # Every norm comes from the factory: without it exactly the BatchNorm affine params go.
    no_norm = arch.build(factory(NoNormFactory), in_shape, classes)
    assert count_parameters(no_norm) == params - 2 * norm_channels
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in no_norm.modules())


@pytest.mark.parametrize("name", NAMES)
def test_every_neuron_is_from_the_factory(name):
    in_shape, classes, _, _, lif_layers = PUBLISHED[name]
    model = get_architecture(name).build(factory(), in_shape, classes)
    assert sum(isinstance(m, SpikingNeuron) for m in model.modules()) == lif_layers


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("cls", [LayerFactory, NoNormFactory], ids=["batchnorm", "no_norm"])
def test_multi_step_output_at_published_size(name, cls):
    in_shape, classes, *_ = PUBLISHED[name]
    timesteps, batch = (1, 1) if name == "resnet34" else (2, 2)
    model = get_architecture(name).build(factory(cls), in_shape, classes)
    out = run(model, in_shape, timesteps, batch)
    assert out.shape == (timesteps * batch, classes)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", NAMES)
def test_any_channels_and_classes(name):
    in_shape = (5, 32, 48)  # non-square: the VGGSNN readout sees a 2×3 map
    model = get_architecture(name).build(factory(), in_shape, 7)
    assert run(model, in_shape, 2, 1).shape == (2, 7)
