"""Weight initialisation schemes: each matches its official rule on large layers, reaches the
layers a method wraps, and ``default`` leaves PyTorch's draw alone."""

from __future__ import annotations

import math

import pytest
import torch
from helpers import BUILTIN_METHODS, make_cell
from torch import nn

from methods import get_method
from methods.architectures import get_architecture, list_architectures
from methods.architectures.init import INIT_SCHEMES, SCHEMES, initialize, network_kind
from methods.architectures.nf_resnet import NFBlock
from methods.architectures.resnet import BasicBlock
from methods.libraries import get_library
from methods.recipes import Recipe
from methods.snn.config import LIFConfig
from methods.snn.layers import Add, LayerFactory
from methods.snn.osr import OSRNorm
from methods.snn.rate import RateBatchNorm
from methods.snn.ws import ScaledWSConv2d

COUT, CIN, K = 512, 256, 3
KAIMING_FAN_OUT = math.sqrt(2 / (COUT * K * K))  # ≈ 0.0208; fan-in would give ≈ 0.0295
LINEAR_IN, LINEAR_OUT = 4096, 256


class Net(nn.Module):
    """One large layer of each kind, with weights and biases moved off PyTorch's draw so that
    a scheme that leaves them alone is told from one that re-draws them."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(CIN, COUT, K, bias=True)
        self.norm = nn.BatchNorm2d(COUT)
        self.linear = nn.Linear(LINEAR_IN, LINEAR_OUT)
        with torch.no_grad():
            for p in self.parameters():
                p.add_(0.25)

    def snapshot(self) -> dict[str, torch.Tensor]:
        return {k: v.clone() for k, v in self.state_dict().items()}


def factory() -> LayerFactory:
    return LayerFactory(get_library("torch"), LIFConfig())


def within(value: float, target: float, tolerance: float = 0.05) -> bool:
    return abs(value - target) <= tolerance * target


def assert_kaiming_fan_out(weight: torch.Tensor) -> None:
    assert within(weight.std().item(), KAIMING_FAN_OUT)
    assert abs(weight.mean().item()) < 0.05 * KAIMING_FAN_OUT


def assert_unit_norm(norm: nn.Module) -> None:
    assert torch.equal(norm.weight, torch.ones_like(norm.weight))
    assert torch.equal(norm.bias, torch.zeros_like(norm.bias))


def test_names_are_the_recipe_choices():
    assert INIT_SCHEMES == tuple(SCHEMES) == ("default", "rate_bp", "ottt", "sltt", "os")
    for scheme in INIT_SCHEMES:
        assert Recipe(init=scheme).init == scheme
    with pytest.raises(ValueError, match="init must be one of"):
        Recipe(init="kaiming")
    with pytest.raises(ValueError, match="unknown init scheme 'xavier'"):
        initialize(Net(), "xavier")


KINDS = {
    "plain": ("vgg11", "vggsnn", "vgg11_bn", "convnet_digits", "fc_seq"),
    "cifar_resnet": ("resnet18", "resnet19"),
    "resnet": ("preact_resnet18", "os_resnet19", "resnet34"),
    "nf_resnet": ("nf_resnet34",),
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_network_kind_of_every_built_in_architecture(kind):
    for name in KINDS[kind]:
        in_shape = (1, 28, 28) if name in ("convnet_digits", "fc_seq") else (3, 32, 32)
        assert network_kind(get_architecture(name).build(factory(), in_shape, 10)) == kind, name
    built_in = {n for n in list_architectures()
                if type(get_architecture(n)).__module__.startswith("methods.architectures.")}
    assert built_in == {n for names in KINDS.values() for n in names}


def test_network_kind_with_ottt_pairs():
    """OTTT's residual sum is a trace-aware PairAdd: still a ResNet."""
    cell = make_cell("ottt_a", architecture="preact_resnet18", dataset="cifar10", timesteps=2)
    assert network_kind(get_method("ottt_a")(cell).build((3, 32, 32), 10)) == "resnet"


def marked(kind: str) -> Net:
    """The large-layer net, made to read as ``kind`` by one small extra block."""
    net = Net()
    if kind == "cifar_resnet":
        net.block = BasicBlock(factory(), 2, 2, 1)
    elif kind == "resnet":
        net.block = Add()
    elif kind == "nf_resnet":
        net.block = NFBlock(factory(), 2, 2, 1, beta=1.0, alpha=0.2)
    assert network_kind(net) == kind
    return net


def check_keep(net: Net, before: dict[str, torch.Tensor]) -> None:
    for key in ("conv.weight", "conv.bias", "norm.weight", "norm.bias", "linear.weight",
                "linear.bias"):
        assert torch.equal(net.state_dict()[key], before[key]), key


def check_kaiming_convs(net: Net, before: dict[str, torch.Tensor]) -> None:
    """Kaiming fan-out conv weights, unit norms; conv bias and linear layer untouched."""
    assert_kaiming_fan_out(net.conv.weight)
    assert_unit_norm(net.norm)
    for key in ("conv.bias", "linear.weight", "linear.bias"):
        assert torch.equal(net.state_dict()[key], before[key]), key


def check_kaiming_convs_zero_fc_bias(net: Net, before: dict[str, torch.Tensor]) -> None:
    """Kaiming fan-out conv weights, unit norms, zero linear bias; conv bias and linear
    weight untouched."""
    assert_kaiming_fan_out(net.conv.weight)
    assert_unit_norm(net.norm)
    assert not net.linear.bias.any()
    for key in ("conv.bias", "linear.weight"):
        assert torch.equal(net.state_dict()[key], before[key]), key


def check_normal_half(net: Net, before: dict[str, torch.Tensor]) -> None:
    """N(0, 0.5²) conv and linear weights, zero biases, unit norms."""
    for layer in (net.conv, net.linear):
        assert within(layer.weight.std().item(), 0.5)
        assert abs(layer.weight.mean().item()) < 0.01
        assert not layer.bias.any()
    assert_unit_norm(net.norm)


def check_torchvision_vgg(net: Net, before: dict[str, torch.Tensor]) -> None:
    """Kaiming fan-out conv weights, N(0, 0.01²) linear weights, zero biases, unit norms."""
    assert_kaiming_fan_out(net.conv.weight)
    assert within(net.linear.weight.std().item(), 0.01)
    assert abs(net.linear.weight.mean().item()) < 0.001
    assert not net.conv.bias.any() and not net.linear.bias.any()
    assert_unit_norm(net.norm)


def check_normaliser_free(net: Net, before: dict[str, torch.Tensor]) -> None:
    """Kaiming fan-out conv weights with zero bias, zero linear weight; the rest untouched."""
    assert_kaiming_fan_out(net.conv.weight)
    assert not net.conv.bias.any()
    assert not net.linear.weight.any()
    for key in ("linear.bias", "norm.weight", "norm.bias"):
        assert torch.equal(net.state_dict()[key], before[key]), key


# scheme: the rule for (plain, cifar_resnet, resnet, nf_resnet), from each official model file
RULES = {
    "default": (check_keep,) * 4,
    "rate_bp": (check_normal_half, check_keep, check_kaiming_convs, check_kaiming_convs),
    "ottt": (check_torchvision_vgg,) * 3 + (check_normaliser_free,),
    "sltt": (check_torchvision_vgg, check_kaiming_convs_zero_fc_bias,
             check_kaiming_convs_zero_fc_bias, check_normaliser_free),
    "os": (check_torchvision_vgg, check_kaiming_convs, check_kaiming_convs,
           check_kaiming_convs),
}


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("scheme", list(RULES))
def test_scheme_applies_the_rule_of_its_code_for_the_network(scheme, kind):
    torch.manual_seed(0)
    net = marked(kind)
    before = net.snapshot()
    initialize(net, scheme)
    RULES[scheme][list(KINDS).index(kind)](net, before)


def test_kaiming_is_fan_out_not_fan_in():
    """The 5 % tolerance separates the two modes: fan-in would be √2 ≈ 1.41 × larger here."""
    assert not within(math.sqrt(2 / (CIN * K * K)), KAIMING_FAN_OUT)


def test_default_keeps_pytorch_draw():
    torch.manual_seed(7)
    reference = nn.Sequential(nn.Conv2d(3, 16, 3), nn.BatchNorm2d(16), nn.Linear(16, 10))
    torch.manual_seed(7)
    model = nn.Sequential(nn.Conv2d(3, 16, 3), nn.BatchNorm2d(16), nn.Linear(16, 10))
    initialize(model, "default")
    for (name, a), b in zip(model.state_dict().items(), reference.state_dict().values(),
                            strict=True):
        assert torch.equal(a, b), name


def test_default_through_method_build_equals_a_plain_build():
    """Method.build applies the recipe's scheme: with ``default`` the same seed builds the same
    weights as the architecture alone."""
    cell = make_cell("bptt", architecture="vgg11", dataset="cifar10", timesteps=2)
    method = get_method("bptt")(cell)
    torch.manual_seed(3)
    built = method.build((3, 32, 32), 10)
    torch.manual_seed(3)
    plain = get_architecture("vgg11").build(method.layers(), (3, 32, 32), 10)
    for (name, a), b in zip(built.state_dict().items(), plain.state_dict().values(),
                            strict=True):
        assert torch.equal(a, b), name


@pytest.mark.parametrize("scheme", ["ottt", "sltt", "os"])
def test_nf_resnet34_keeps_its_zero_readout(scheme):
    model = get_architecture("nf_resnet34").build(factory(), (3, 64, 64), 10)
    initialize(model, scheme)
    assert not model[-1].weight.any()
    assert all(not conv.bias.any() for conv in model.modules() if isinstance(conv, nn.Conv2d))


@pytest.mark.parametrize("method_name", BUILTIN_METHODS)
def test_wrapped_layers_are_reached(method_name):
    """Built through each method's factory (OTTT's weight-standardised convs inside trace
    synapses, rate-based BP's two-pass BatchNorm, OS's OSR), the ``ottt`` scheme reaches every
    conv, linear and norm; weight-standardised layers keep their gain of 1."""
    cell = make_cell(method_name, architecture="vgg11", dataset="cifar10", timesteps=2,
                     init="ottt")
    method = get_method(method_name)(cell)
    torch.manual_seed(0)
    model = method.build((3, 32, 32), 10)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert len(convs) == 8 and len(linears) == 1
    for conv in convs[-4:]:  # the 512 → 512 convs: 2.4 M weights each
        assert within(conv.weight.std().item(), math.sqrt(2 / (512 * 9)))
    assert all(not conv.bias.any() for conv in convs)
    assert within(linears[0].weight.std().item(), 0.01)  # 5 120 weights: std known to ~1 %
    assert not linears[0].bias.any()
    weight_standardised = method_name.startswith(("ottt", "ndot"))  # OTTT's layers, no norm
    if weight_standardised:
        assert all(isinstance(conv, ScaledWSConv2d) for conv in convs)
        assert all(torch.equal(c.gain, torch.ones_like(c.gain)) for c in convs)
    norms = [m for m in model.modules() if isinstance(m, (nn.BatchNorm2d, OSRNorm))]
    assert len(norms) == (0 if weight_standardised else 8)
    if method_name.startswith("rate"):
        assert sum(isinstance(m, RateBatchNorm) for m in model.modules()) == 8
    if method_name == "os":
        assert all(isinstance(m, OSRNorm) for m in norms)


@pytest.mark.parametrize("norm", [nn.BatchNorm2d(64), OSRNorm(64),
                                  RateBatchNorm(64)], ids=["batchnorm", "osr", "rate"])
def test_norms_get_weight_one_bias_zero(norm):
    with torch.no_grad():
        for p in norm.parameters():
            p.fill_(3.0)
    initialize(norm, "ottt")
    inner = norm.bn if isinstance(norm, RateBatchNorm) else norm
    assert_unit_norm(inner)
