"""The fused Triton LIF kernels (methods/snn/triton_lif.py) against the PyTorch reference.

On CPU the kernels run under Triton's interpreter, which must be switched on before triton is
imported, so those checks run in a subprocess (this file executed as a script). The GPU test
runs the same checks on compiled kernels.
"""

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from methods.snn import triton_lif
from methods.snn.config import RESETS, SURROGATES, LIFConfig
from methods.snn.lif import _FusedLIF, lif_forward_sequence, lif_step
from methods.snn.rate import Eligibility, eligibility_of_sequence

ROOT = Path(__file__).resolve().parents[2]
ALPHAS = {"sigmoid": 4.0, "triangle": 1.0, "rectangle": 1.0}
# λ = 2/3 and θ = 0.9 are not binary fractions: float64 checks see any float32 detour
CONFIGS = [
    LIFConfig(tau=3.0, threshold=0.9, reset=r, detach_reset=d, surrogate=k, alpha=ALPHAS[k])
    for r in RESETS for d in (True, False) for k in SURROGATES
]
STEPS = (1, 3, 8)
LAYOUTS = ("contiguous", "channels_last", "strided")
SHAPE = (3, 5, 9, 11)  # B, C, H, W: 1485 neurons, two blocks of 1024, the second partial


def _inputs(T: int, layout: str, gen: torch.Generator) -> torch.Tensor:
    """``[T, B, C, H, W]`` float64 currents spread around the threshold, in ``layout``."""
    B, C, H, W = SHAPE
    if layout == "strided":  # not dense: the kernels work on a contiguous copy
        return (torch.randn(T, B, C, H, 2 * W, generator=gen, dtype=torch.float64)
                * 1.5 + 0.5)[..., ::2]
    x = torch.randn(T * B, C, H, W, generator=gen, dtype=torch.float64) * 1.5 + 0.5
    if layout == "channels_last":  # a channels_last conv output viewed as [T, B, ...]
        x = x.to(memory_format=torch.channels_last)
    return x.view(T, B, C, H, W)


@contextmanager
def _reference_only() -> Iterator[None]:
    """lif.py / rate.py as written in PyTorch, even where they would dispatch to the kernels
    (they ask ``triton_lif.available``); the kernels themselves are called directly."""
    saved = triton_lif.available
    triton_lif.available = lambda t: False
    try:
        yield
    finally:
        triton_lif.available = saved


def _close(actual: torch.Tensor, expected: torch.Tensor, tol: float, what: str) -> None:
    torch.testing.assert_close(actual.to(expected.dtype), expected, rtol=tol, atol=tol,
                               msg=lambda m: f"{what}: {m}")


def _check_multi_step(x, x_ref, cfg, tol, gen, what, dense):
    s, h = triton_lif.multi_step_forward(x, cfg)
    s_ref, h_ref = lif_forward_sequence(x_ref, cfg)
    assert torch.equal(s.to(s_ref.dtype), s_ref), f"{what}: spikes"
    assert s.dtype == x.dtype and h.dtype == x.dtype
    if dense:  # dense inputs keep their layout, channels_last included
        assert s.stride() == x.stride() and h.stride() == x.stride(), f"{what}: layout"
    _close(h, h_ref, tol, f"{what}: H")
    s_only, none = triton_lif.multi_step_forward(x, cfg, save_h=False)
    assert none is None and torch.equal(s_only, s), f"{what}: save_h=False"

    # ∂L/∂s arrives contiguous whatever the layout of H; the reference runs on the same H
    grad = torch.randn(x.shape, generator=gen, dtype=torch.float64).to(x.device, x.dtype)
    grad_x = triton_lif.multi_step_backward(grad, h, cfg)
    ctx = SimpleNamespace(saved_tensors=(h.to(x_ref.dtype),), cfg=cfg)
    _close(grad_x, _FusedLIF.backward(ctx, grad.to(x_ref.dtype))[0], tol, f"{what}: grad")

    s_rate, rate, elig = triton_lif.rate_spike_pass(x, cfg)
    rate_ref, elig_ref = eligibility_of_sequence(h_ref, s_ref, cfg)
    assert torch.equal(s_rate, s), f"{what}: rate-pass spikes"
    assert rate.shape == x.shape[1:] and rate.dtype == x.dtype
    _close(rate, rate_ref, tol, f"{what}: rate")
    _close(elig, elig_ref, tol, f"{what}: eligibility")


def _check_single_step(x, x_ref, cfg, tol, gen, what):
    """Step by step; the reference step gets the kernel's own state, H and thresholds."""
    ref_dtype, dev = x_ref.dtype, x.device
    acc_dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
    spikes, elig, kappa = (torch.empty_like(x[0], dtype=acc_dtype) for _ in range(3))
    ref_acc = Eligibility(cfg)
    v = None
    for t in range(x.shape[0]):
        threshold = (None, 0.8, torch.tensor(0.7 + 0.1 * t, dtype=ref_dtype, device=dev))[t % 3]
        step = f"{what} t={t} threshold={type(threshold).__name__}"
        s, v_next, h = triton_lif.single_step_forward(x[t], v, cfg, threshold)
        v_ref = None if v is None else v.to(ref_dtype)
        s_ref, v_next_ref, h_ref = lif_step(x_ref[t], v_ref, cfg, threshold)
        assert torch.equal(s.to(ref_dtype), s_ref.detach()), f"{step}: spikes"
        _close(h, h_ref.detach(), tol, f"{step}: H")
        _close(v_next, v_next_ref.detach(), tol, f"{step}: V")

        # ∂L/∂H by autograd of lif_step on the kernel's H (as the input of a zero-state step)
        gs = torch.randn(h.shape, generator=gen, dtype=torch.float64).to(dev, x.dtype)
        gv = torch.randn(h.shape, generator=gen, dtype=torch.float64).to(dev, x.dtype)
        gs, gv = ((gs, gv), (gs, None), (None, gv))[t % 3]
        h_in = h.to(ref_dtype).requires_grad_()
        outs = [o for o, g in zip(lif_step(h_in, None, cfg, threshold)[:2], (gs, gv),
                                  strict=True) if g is not None]
        grads = [g.to(ref_dtype) for g in (gs, gv) if g is not None]
        (grad_ref,) = torch.autograd.grad(outs, [h_in], grads)
        grad_h = triton_lif.single_step_backward(gs, gv, h, cfg, threshold)
        _close(grad_h, grad_ref, tol, f"{step}: grad H")

        if threshold is None:  # the rate pass uses the configured threshold
            triton_lif.eligibility_step(spikes, elig, kappa, h, s, cfg, first=t == 0)
            ref_acc.update(h.to(ref_dtype), s.to(ref_dtype))
        v = v_next
    if ref_acc.steps:
        rate_ref, elig_ref = ref_acc.rate_and_eligibility()
        _close(spikes / ref_acc.steps, rate_ref, tol, f"{what}: step rate")
        _close(elig / ref_acc.steps, elig_ref, tol, f"{what}: step eligibility")


def run_checks(
    device: str, dtypes: dict[torch.dtype, float], configs: list[LIFConfig] = CONFIGS
) -> None:
    """Every kernel against the reference, for each configuration, T, layout and dtype.

    ``dtypes`` maps the kernels' dtype to a tolerance; reduced precision is compared with a
    float32 reference on the rounded inputs."""
    gen = torch.Generator().manual_seed(0)
    for dtype, tol in dtypes.items():
        ref_dtype = torch.float64 if dtype == torch.float64 else torch.float32
        for cfg in configs:
            for T in STEPS:
                for layout in LAYOUTS:
                    x = _inputs(T, layout, gen).to(device=device, dtype=dtype)
                    x_ref = x.to(ref_dtype)
                    assert triton_lif.available(x)
                    what = f"{dtype} {cfg.reset} detach={cfg.detach_reset} {cfg.surrogate} " \
                           f"T={T} {layout}"
                    with _reference_only():
                        _check_multi_step(x, x_ref, cfg, tol, gen, what, layout != "strided")
                        _check_single_step(x, x_ref, cfg, tol, gen, what)


def _interpreter_checks() -> None:
    """Entry point of the subprocess (``TRITON_INTERPRET=1``)."""
    assert triton_lif.available(torch.zeros(1)), "the interpreter is not on"
    # float32: σ' = sig·(1 − sig) amplifies a one-ulp difference of sig near 1 to ~1e-6
    run_checks("cpu", {torch.float64: 1e-12, torch.float32: 1e-5})
    run_checks("cpu", {torch.bfloat16: 3e-2}, CONFIGS[::5])
    print("ok")


def test_kernels_match_the_reference_in_the_interpreter():
    from helpers import need_triton_interpreter

    need_triton_interpreter()
    env = dict(os.environ, TRITON_INTERPRET="1", PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, __file__], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert proc.stdout.strip().endswith("ok")


def test_unavailable_without_cuda_or_interpreter():
    if os.environ.get("TRITON_INTERPRET") == "1":
        pytest.skip("the interpreter is on in this process")
    assert not triton_lif.available(torch.zeros(2))
    assert not triton_lif.available(torch.zeros(2, dtype=torch.int64))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_kernels_match_the_reference_on_cuda():
    pytest.importorskip("triton", reason="triton is not installed")
    run_checks("cuda", {torch.float32: 1e-5, torch.bfloat16: 3e-2})


if __name__ == "__main__":
    _interpreter_checks()
