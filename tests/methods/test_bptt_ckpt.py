"""bptt_ckpt: bptt's gradient to the last bit, at activation memory that falls with segments and
with spike compression (measured by the suite's SavedTensorMeter)."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from helpers import make_cell
from torch import nn

from benches.measure.memory import SavedTensorMeter
from methods import get_method
from methods.architectures.resnet import cifar_resnet
from methods.bptt_ckpt import BPTTCheckpoint, is_neuron
from methods.snn.checkpointing import (
    BitCodec,
    BoolCodec,
    balanced_cuts,
    block_units,
    is_binary,
    pieces,
)

COMPRESS = ("none", "bool", "bit")
ARCHITECTURES = {"convnet_digits": (1, 2), "narrow_resnet18": (1, 2, 4, 8)}
"""Architecture → the segment counts tried (every one it can be cut into from the grid)."""


@pytest.fixture(autouse=True)
def one_thread():
    """These tensors are tiny: a second intra-op thread only spins on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def build(method, architecture: str) -> nn.Module:
    """convnet_digits, or resnet18's layout (stem, [2, 2, 2, 2] basic blocks with downsampling
    shortcuts, 17 spiking layers, 9 units) at widths 4–16 so that float64 runs fast."""
    if architecture == "convnet_digits":
        return method.build((1, 8, 8), 10)
    f = method.layers()
    return cifar_resnet(f, 1, (4, 8, 8, 16), (2, 2, 2, 2), [f.readout(16, 10)])


def run(name: str, library: str, architecture: str, reset: str = "soft", dtype=torch.float64,
        T: int = 3, **params):
    """Gradients and buffers after one step on fixed weights and data, and the model."""
    method = get_method(name)(make_cell(name, library, timesteps=T, reset=reset,
                                        params=params))
    torch.manual_seed(0)
    model = build(method, architecture).to(dtype)
    gen = torch.Generator().manual_seed(1)
    x_seq = torch.rand(T, 4, 1, 8, 8, generator=gen, dtype=dtype) * 2.5
    y = torch.randint(0, 10, (4,), generator=gen)
    method.train_step(model, x_seq, y, optimizer=None)
    return [p.grad for p in model.parameters()], [b.clone() for b in model.buffers()]


def relative_error(got: torch.Tensor, ref: torch.Tensor) -> float:
    return float((got - ref).abs().max() / ref.abs().max())


@pytest.mark.parametrize("architecture", sorted(ARCHITECTURES))
@pytest.mark.parametrize("reset", ["soft", "hard"])
@pytest.mark.parametrize("library", ["torch", "spikingjelly", "snntorch"])
def test_gradient_equals_bptt(library, reset, architecture):
    # snntorch's own soft reset casts its spikes to float32 (snntorch.surrogate.sigmoid):
    # that case runs in float32, where a recompute must be just as exact
    dtype = torch.float32 if (library, reset) == ("snntorch", "soft") else torch.float64
    ref, ref_buffers = run("bptt", library, architecture, reset, dtype)
    assert all(g.abs().max() > 0 for g in ref)  # the gradient reaches every parameter
    for segments in ARCHITECTURES[architecture]:
        for compress in COMPRESS:
            grads, buffers = run("bptt_ckpt", library, architecture, reset, dtype,
                                 segments=segments, compress=compress)
            for got, want in zip(grads, ref, strict=True):
                assert relative_error(got, want) <= 1e-12, (segments, compress)
            for got, want in zip(buffers, ref_buffers, strict=True):  # BN updated once
                assert torch.equal(got, want), (segments, compress)


def test_dropout_mask_is_recomputed_and_the_random_stream_is_bptts():
    x_seq, y = torch.rand(3, 4, 1, 8, 8, dtype=torch.float64) * 2.5, torch.randint(0, 10, (4,))
    results = {}
    for name, params in (("bptt", {}), ("bptt_ckpt", {"segments": 3, "compress": "bit"})):
        method = get_method(name)(make_cell(name, timesteps=3, params=params, dropout=0.3))
        f = method.layers()
        torch.manual_seed(0)
        blocks = [m for _ in range(3) for m in (f.conv(1, 1, 3, padding=1), f.norm(1),
                                                f.neuron(), f.drop())]
        model = nn.Sequential(*blocks, f.flatten(), f.readout(64, 10)).double()
        method.train_step(model, x_seq, y, optimizer=None)
        results[name] = [p.grad for p in model.parameters()], torch.rand(1)
    for got, want in zip(results["bptt_ckpt"][0], results["bptt"][0], strict=True):
        assert relative_error(got, want) <= 1e-12
    assert torch.equal(results["bptt_ckpt"][1], results["bptt"][1])  # same draws, same order


# -- memory ---------------------------------------------------------------------------------------
def activation_bytes(name: str, library: str = "torch", T: int = 2, size: int = 16,
                     **params) -> int:
    torch.manual_seed(0)
    method = get_method(name)(make_cell(name, library, timesteps=T, params=params))
    f = method.layers()
    model = cifar_resnet(f, 1, (4, 8, 8, 16), (2, 2, 2, 2), [f.readout(16, 10)])
    x_seq, y = torch.rand(T, 4, 1, size, size) * 2.5, torch.randint(0, 10, (4,))
    with SavedTensorMeter(exclude=[*model.parameters(), *model.buffers()]) as meter:
        method.train_step(model, x_seq, y, optimizer=None)
    return meter.peak


def spike_bytes(library: str = "torch") -> int:
    """Bytes of the 0/1 tensors bptt saves (one count per storage), float32."""
    torch.manual_seed(0)
    method = get_method("bptt")(make_cell("bptt", library, timesteps=2))
    f = method.layers()
    model = cifar_resnet(f, 1, (4, 8, 8, 16), (2, 2, 2, 2), [f.readout(16, 10)])
    own = {t.untyped_storage().data_ptr() for t in [*model.parameters(), *model.buffers()]}
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        ptr = t.untyped_storage().data_ptr()
        if ptr not in own and is_binary(t):
            seen[ptr] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        method.train_step(model, torch.rand(2, 4, 1, 16, 16) * 2.5, torch.randint(0, 10, (4,)),
                          optimizer=None)
    return sum(seen.values())


def test_memory_falls_with_segments():
    peaks = [activation_bytes("bptt_ckpt", segments=s, compress="none") for s in (1, 2, 4, 8)]
    assert peaks[0] == activation_bytes("bptt")  # one segment, no compression: bptt itself
    assert peaks[1] < 0.7 * peaks[0] and peaks[2] < 0.45 * peaks[0]  # measured 0.60, 0.36
    assert peaks[3] <= peaks[2]  # the stem's unit is now the largest piece


@pytest.mark.parametrize("library", ["torch", "spikingjelly"])
def test_compression_shrinks_the_spike_share(library):
    spikes = spike_bytes(library)
    none, bool_, bit = (activation_bytes("bptt_ckpt", library, segments=1, compress=c)
                        for c in COMPRESS)
    others = none - spikes
    assert spikes > 0.2 * none  # spikes are a real share of what bptt keeps
    # float32 spikes: 1 byte of 4 as bool, 1 bit of 32 packed
    assert (bool_ - others) / spikes == pytest.approx(1 / 4, abs=0.01)
    assert (bit - others) / spikes < 1 / 32 + 0.01
    # with checkpoints: the pieces' spiking inputs are kept compressed as well
    segmented = [activation_bytes("bptt_ckpt", library, segments=4, compress=c)
                 for c in COMPRESS]
    assert segmented[2] < segmented[1] < 0.9 * segmented[0]


def test_memory_grows_linearly_in_t():
    sizes = {T: activation_bytes("bptt_ckpt", T=T, size=8) for T in (2, 4, 8)}
    for T in (4, 8):
        assert sizes[T] / sizes[2] == pytest.approx(T / 2, rel=0.05)


# -- segments, codecs, supports -----------------------------------------------------------------
def test_units_end_at_spiking_blocks_and_pieces_cover_the_chain():
    method = get_method("bptt_ckpt")(make_cell("bptt_ckpt"))
    model = build(method, "narrow_resnet18")
    units = block_units(model, is_neuron)
    assert len(units) == 9  # stem (conv, norm, LIF) + 8 blocks; GAP, flatten, readout join
    assert units[0] == [0, 1, 2] and units[-1] == [10, 11, 12, 13]
    assert balanced_cuts([1, 2, 2, 2, 2, 2, 2, 2, 2], 4) == [3, 5, 7]
    assert balanced_cuts([8, 1, 1, 1], 2) == [1]
    for segments in (1, 2, 4, 9):
        cuts = balanced_cuts([1] * 9, segments)
        parts = pieces(model, units, cuts)
        assert len(parts) == segments
        assert [m for p in parts for m in p] == list(model)


@pytest.mark.parametrize("codec", [BoolCodec(), BitCodec()])
def test_codecs_round_trip_and_keep_the_layout(codec):
    x = (torch.rand(2, 3, 5, 7) > 0.5).float().contiguous(memory_format=torch.channels_last)
    values, *meta = codec.compress(x)
    y = codec.decompress((values, *meta))
    assert torch.equal(x, y) and y.stride() == x.stride()
    assert values.numel() == (x.numel() if isinstance(codec, BoolCodec) else -(-x.numel() // 8))
    assert not is_binary(x * 0.5) and is_binary(x) and not is_binary(x.bool())


@pytest.mark.parametrize("params, architecture, why", [
    ({"segments": 4}, "convnet_digits", "at most 2 segments"),
    ({"segments": 10}, "resnet18", "at most 9 segments"),
    ({"segments": 0}, "resnet18", "segments ≥ 1"),
    ({"compress": "zip"}, "resnet18", "compress must be one of"),
])
def test_supports_refuses_what_cannot_run(params, architecture, why):
    ok, reason = BPTTCheckpoint.supports(make_cell("bptt_ckpt", architecture=architecture,
                                                   params=params))
    assert not ok and why in reason
    assert BPTTCheckpoint.supports(make_cell("bptt_ckpt", architecture="resnet18",
                                             params={"segments": 9}))[0]
    compiled = dataclasses.replace(make_cell("bptt_ckpt"), compile=True)
    assert not BPTTCheckpoint.supports(compiled)[0]
