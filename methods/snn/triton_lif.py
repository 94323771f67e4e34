"""Fused Triton kernels for the LIF neuron of :mod:`methods.snn.lif`.

The plain-PyTorch reference launches several elementwise kernels per time step (charge,
compare, reset; surrogate, reset derivative and carry in the backward; surrogate, κ and
accumulators for the rate eligibility), each reading and writing whole tensors. Here every
LIF call is one kernel: each program owns a block of neurons and runs the whole time loop
with the membrane potential, the backward carry or the rate accumulators kept in registers,
so a sequence costs one read of its inputs and one write of its outputs.

Semantics are exactly those of :func:`lif.lif_forward_sequence`, ``_FusedLIF.backward``,
:func:`lif.lif_step` and :func:`rate.eligibility_of_sequence`. Arithmetic is in float32 for
float16/bfloat16/float32 tensors and in float64 for float64; outputs take the input dtype.
Nothing here synchronises with the host or copies host data to the device (the per-step
threshold of OTS is read inside the kernel), so every function is CUDA-graph capturable.

With ``TRITON_INTERPRET=1`` set before this module is imported, the kernels run on CPU
tensors through Triton's interpreter (used by the tests).
"""

import contextlib
import os
from typing import Any, Literal, overload

import torch

from .config import LIFConfig

try:
    import triton
    import triton.language as tl
except ImportError:  # pragma: no cover - triton is optional
    triton = None
    tl = None

_INTERPRET = os.environ.get("TRITON_INTERPRET") == "1"
_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
_SURROGATES = {"sigmoid": 0, "triangle": 1, "rectangle": 2}
BLOCK = 1024
NUM_WARPS = 4

__all__ = [
    "available", "multi_step_forward", "multi_step_backward", "rate_spike_pass",
    "single_step_forward", "single_step_backward", "eligibility_step",
]


def available(t: torch.Tensor) -> bool:
    """Whether these kernels can run on ``t`` (CUDA, or CPU under ``TRITON_INTERPRET=1``)."""
    if triton is None or t.dtype not in _DTYPES:
        return False
    return t.is_cuda or (_INTERPRET and t.device.type == "cpu")


# Kernels and their @triton.jit helpers stay unannotated (``type: ignore[no-untyped-def]``):
# Triton reads a kernel's annotations itself (``tl.constexpr``, ``tl.float64`` specialise the
# compiled code), so Python type hints there would change what it compiles.
if triton is not None:

    @triton.jit
    def _scalar(value, CDT: tl.constexpr):  # type: ignore[no-untyped-def]
        """A kernel scalar argument (fp64 when compiled, a Python float when interpreted)
        in the compute dtype, without a detour through float32."""
        return tl.full((), value, CDT)

    @triton.jit
    def _surrogate(u, alpha, alpha_sq, KIND: tl.constexpr):  # type: ignore[no-untyped-def]
        """σ'(u): 0 sigmoid, 1 triangle, 2 rectangle (width ``alpha``)."""
        if KIND == 0:
            sig = 1.0 / (1.0 + tl.exp(-(u * alpha)))
            return sig * (1.0 - sig) * alpha
        elif KIND == 1:
            return tl.maximum(alpha - alpha_sq * tl.abs(u), 0.0)
        else:
            return tl.where(tl.abs(u) < alpha * 0.5, 1.0 / alpha, 0.0)

    @triton.jit
    def _dv_dh(h, s, sg, theta, SOFT: tl.constexpr, DETACH: tl.constexpr):  # type: ignore[no-untyped-def]
        """∂V_t/∂H_t for the configured reset (``s`` the spike as 0/1, ``sg`` = σ'(H − θ))."""
        if SOFT:
            if DETACH:
                return tl.full(h.shape, 1.0, h.dtype)
            else:
                return 1.0 - theta * sg
        else:
            if DETACH:
                return 1.0 - s
            else:
                return (1.0 - s) - h * sg

    @triton.jit
    def _reset(h, s, theta, SOFT: tl.constexpr):  # type: ignore[no-untyped-def]
        """V_t from H_t and the spike s_t."""
        if SOFT:
            return h - theta * s
        else:
            return h * (1.0 - s)

    @triton.jit
    def _multi_forward_kernel(  # type: ignore[no-untyped-def]
        x_ptr, s_ptr, h_ptr, N, T, decay: tl.float64, thr: tl.float64,
        SOFT: tl.constexpr, SAVE_H: tl.constexpr, CDT: tl.constexpr, BLOCK: tl.constexpr,
    ):
        offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
        mask = offs < N
        lam = _scalar(decay, CDT)
        theta = _scalar(thr, CDT)
        v = tl.zeros([BLOCK], CDT)
        for _ in range(T):
            x = tl.load(x_ptr + offs, mask=mask, other=0.0).to(CDT)
            h = x + lam * v
            s = (h >= theta).to(CDT)
            tl.store(s_ptr + offs, s.to(s_ptr.dtype.element_ty), mask=mask)
            if SAVE_H:
                tl.store(h_ptr + offs, h.to(h_ptr.dtype.element_ty), mask=mask)
            v = _reset(h, s, theta, SOFT)
            offs += N

    @triton.jit
    def _multi_backward_kernel(  # type: ignore[no-untyped-def]
        gs_ptr, h_ptr, gx_ptr, N, T, last, decay: tl.float64, thr: tl.float64,
        alpha: tl.float64, alpha_sq: tl.float64, KIND: tl.constexpr, SOFT: tl.constexpr,
        DETACH: tl.constexpr, CDT: tl.constexpr, BLOCK: tl.constexpr,
    ):
        offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
        mask = offs < N
        offs += last  # start at t = T − 1 and walk back
        lam = _scalar(decay, CDT)
        theta = _scalar(thr, CDT)
        a = _scalar(alpha, CDT)
        a2 = _scalar(alpha_sq, CDT)
        carry = tl.zeros([BLOCK], CDT)  # λ·∂L/∂H_{t+1}; zero at t = T − 1
        for _ in range(T):
            h = tl.load(h_ptr + offs, mask=mask, other=0.0).to(CDT)
            gs = tl.load(gs_ptr + offs, mask=mask, other=0.0).to(CDT)
            u = h - theta
            sg = _surrogate(u, a, a2, KIND)
            s = (u >= 0).to(CDT)
            gh = gs * sg + carry * _dv_dh(h, s, sg, theta, SOFT, DETACH)
            tl.store(gx_ptr + offs, gh.to(gx_ptr.dtype.element_ty), mask=mask)
            carry = gh * lam
            offs -= N

    @triton.jit
    def _rate_kernel(  # type: ignore[no-untyped-def]
        x_ptr, s_ptr, rate_ptr, elig_ptr, N, T, decay: tl.float64, thr: tl.float64,
        alpha: tl.float64, alpha_sq: tl.float64, KIND: tl.constexpr, SOFT: tl.constexpr,
        DETACH: tl.constexpr, CDT: tl.constexpr, BLOCK: tl.constexpr,
    ):
        base = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
        mask = base < N
        offs = base
        lam = _scalar(decay, CDT)
        theta = _scalar(thr, CDT)
        a = _scalar(alpha, CDT)
        a2 = _scalar(alpha_sq, CDT)
        v = tl.zeros([BLOCK], CDT)
        kappa = tl.full([BLOCK], 1.0, CDT)
        rate = tl.zeros([BLOCK], CDT)
        elig = tl.zeros([BLOCK], CDT)
        for _ in range(T):
            x = tl.load(x_ptr + offs, mask=mask, other=0.0).to(CDT)
            h = x + lam * v
            s = (h >= theta).to(CDT)
            tl.store(s_ptr + offs, s.to(s_ptr.dtype.element_ty), mask=mask)
            sg = _surrogate(h - theta, a, a2, KIND)
            rate += s
            elig += sg * kappa
            kappa = 1.0 + kappa * (lam * _dv_dh(h, s, sg, theta, SOFT, DETACH))
            v = _reset(h, s, theta, SOFT)
            offs += N
        tl.store(rate_ptr + base, (rate / T).to(rate_ptr.dtype.element_ty), mask=mask)
        tl.store(elig_ptr + base, (elig / T).to(elig_ptr.dtype.element_ty), mask=mask)

    @triton.jit
    def _step_threshold(th_ptr, thr, TH_PTR: tl.constexpr, CDT: tl.constexpr):  # type: ignore[no-untyped-def]
        if TH_PTR:
            return tl.load(th_ptr).to(CDT)
        else:
            return _scalar(thr, CDT)

    @triton.jit
    def _step_forward_kernel(  # type: ignore[no-untyped-def]
        x_ptr, v_ptr, th_ptr, s_ptr, vn_ptr, h_ptr, N, decay: tl.float64, thr: tl.float64,
        HAS_V: tl.constexpr, TH_PTR: tl.constexpr, SOFT: tl.constexpr, CDT: tl.constexpr,
        BLOCK: tl.constexpr,
    ):
        offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
        mask = offs < N
        theta = _step_threshold(th_ptr, thr, TH_PTR, CDT)
        h = tl.load(x_ptr + offs, mask=mask, other=0.0).to(CDT)
        if HAS_V:
            h += _scalar(decay, CDT) * tl.load(v_ptr + offs, mask=mask, other=0.0).to(CDT)
        s = (h - theta >= 0).to(CDT)
        tl.store(s_ptr + offs, s.to(s_ptr.dtype.element_ty), mask=mask)
        v = _reset(h, s, theta, SOFT)
        tl.store(vn_ptr + offs, v.to(vn_ptr.dtype.element_ty), mask=mask)
        tl.store(h_ptr + offs, h.to(h_ptr.dtype.element_ty), mask=mask)

    @triton.jit
    def _step_backward_kernel(  # type: ignore[no-untyped-def]
        gs_ptr, gv_ptr, h_ptr, th_ptr, gh_ptr, N, thr: tl.float64, alpha: tl.float64,
        alpha_sq: tl.float64, HAS_GS: tl.constexpr, HAS_GV: tl.constexpr,
        TH_PTR: tl.constexpr, KIND: tl.constexpr, SOFT: tl.constexpr, DETACH: tl.constexpr,
        CDT: tl.constexpr, BLOCK: tl.constexpr,
    ):
        offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
        mask = offs < N
        theta = _step_threshold(th_ptr, thr, TH_PTR, CDT)
        h = tl.load(h_ptr + offs, mask=mask, other=0.0).to(CDT)
        u = h - theta
        sg = _surrogate(u, _scalar(alpha, CDT), _scalar(alpha_sq, CDT), KIND)
        gh = tl.zeros([BLOCK], CDT)
        if HAS_GS:
            gh += tl.load(gs_ptr + offs, mask=mask, other=0.0).to(CDT) * sg
        if HAS_GV:
            gv = tl.load(gv_ptr + offs, mask=mask, other=0.0).to(CDT)
            gh += gv * _dv_dh(h, (u >= 0).to(CDT), sg, theta, SOFT, DETACH)
        tl.store(gh_ptr + offs, gh.to(gh_ptr.dtype.element_ty), mask=mask)

    @triton.jit
    def _eligibility_step_kernel(  # type: ignore[no-untyped-def]
        spk_ptr, elig_ptr, kappa_ptr, h_ptr, s_ptr, N, decay: tl.float64, thr: tl.float64,
        alpha: tl.float64, alpha_sq: tl.float64, FIRST: tl.constexpr, KIND: tl.constexpr,
        SOFT: tl.constexpr, DETACH: tl.constexpr, CDT: tl.constexpr, BLOCK: tl.constexpr,
    ):
        offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
        mask = offs < N
        theta = _scalar(thr, CDT)
        h = tl.load(h_ptr + offs, mask=mask, other=0.0).to(CDT)
        s = tl.load(s_ptr + offs, mask=mask, other=0.0).to(CDT)
        sg = _surrogate(h - theta, _scalar(alpha, CDT), _scalar(alpha_sq, CDT), KIND)
        if FIRST:
            spikes = s
            elig = sg
            kappa = tl.full([BLOCK], 1.0, CDT)
        else:
            spikes = tl.load(spk_ptr + offs, mask=mask, other=0.0).to(CDT) + s
            kappa = tl.load(kappa_ptr + offs, mask=mask, other=0.0).to(CDT)
            elig = tl.load(elig_ptr + offs, mask=mask, other=0.0).to(CDT) + sg * kappa
        jac = _scalar(decay, CDT) * _dv_dh(h, s, sg, theta, SOFT, DETACH)
        kappa = 1.0 + kappa * jac
        tl.store(spk_ptr + offs, spikes.to(spk_ptr.dtype.element_ty), mask=mask)
        tl.store(elig_ptr + offs, elig.to(elig_ptr.dtype.element_ty), mask=mask)
        tl.store(kappa_ptr + offs, kappa.to(kappa_ptr.dtype.element_ty), mask=mask)


# ---------------------------------------------------------------------------- host side


def _is_dense(t: torch.Tensor) -> bool:
    """Non-overlapping and dense: the elements fill ``numel`` consecutive slots in some order."""
    expected = 1
    for size, stride in sorted(
        ((n, st) for n, st in zip(t.shape, t.stride(), strict=True) if n != 1),
        key=lambda p: p[1],
    ):
        if stride != expected:
            return False
        expected *= size
    return True


def _same_layout(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Same shape and same strides on every dimension that has more than one element."""
    return a.shape == b.shape and all(
        n == 1 or sa == sb for n, sa, sb in zip(a.shape, a.stride(), b.stride(), strict=True)
    )


def _flat_sequence(x: torch.Tensor) -> torch.Tensor:
    """``x`` if it is a dense ``[T, N]`` buffer (time outermost), else a contiguous copy."""
    n = x[0].numel() if x.shape[0] else 0
    if _is_dense(x) and (x.shape[0] <= 1 or x.stride(0) == n):
        return x
    return x.contiguous()


def _flat(x: torch.Tensor) -> torch.Tensor:
    return x if _is_dense(x) else x.contiguous()


def _like(t: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """``t`` laid out exactly as the dense ``ref`` (copied only when it is not already)."""
    if _same_layout(t, ref):
        return t
    return torch.empty_like(ref, dtype=t.dtype).copy_(t)


def _compute_dtype(*ts: torch.Tensor) -> "tl.dtype":
    """float64 when any operand is float64, else float32."""
    return tl.float64 if any(t.dtype == torch.float64 for t in ts) else tl.float32


def _grid(n: int) -> tuple[int]:
    return (triton.cdiv(n, BLOCK),)


def _device(t: torch.Tensor) -> contextlib.AbstractContextManager[Any]:
    return torch.cuda.device(t.device) if t.is_cuda else contextlib.nullcontext()


def _cfg_args(cfg: LIFConfig) -> dict[str, Any]:
    """Scalar and constexpr arguments shared by the kernels."""
    return dict(
        alpha=float(cfg.alpha), alpha_sq=float(cfg.alpha) * float(cfg.alpha),
        KIND=_SURROGATES[cfg.surrogate], SOFT=cfg.reset == "soft", DETACH=cfg.detach_reset,
    )


def _threshold_args(
    threshold: torch.Tensor | float | None, cfg: LIFConfig, dummy: torch.Tensor
) -> tuple[torch.Tensor, float, bool]:
    """``(th_ptr, thr, TH_PTR)``: a tensor threshold is read in the kernel, never on the host."""
    if isinstance(threshold, torch.Tensor):
        if threshold.numel() != 1 or threshold.device != dummy.device:
            raise ValueError("a tensor threshold must hold one value on the neurons' device")
        return threshold, 0.0, True
    return dummy, float(cfg.threshold if threshold is None else threshold), False


@overload
def multi_step_forward(
    x_seq: torch.Tensor, cfg: LIFConfig, save_h: Literal[True] = ...
) -> tuple[torch.Tensor, torch.Tensor]: ...


@overload
def multi_step_forward(
    x_seq: torch.Tensor, cfg: LIFConfig, save_h: bool
) -> tuple[torch.Tensor, torch.Tensor | None]: ...


def multi_step_forward(
    x_seq: torch.Tensor, cfg: LIFConfig, save_h: bool = True
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Spikes ``[T, ...]`` (and the charged potentials H, if ``save_h``) from a zero state."""
    x = _flat_sequence(x_seq)
    s_seq = torch.empty_like(x)
    h_seq = torch.empty_like(x) if save_h else None
    T = x.shape[0]
    n = x.numel() // T if T else 0
    if n:
        with _device(x):
            _multi_forward_kernel[_grid(n)](
                x, s_seq, h_seq if save_h else s_seq, n, T, cfg.decay, float(cfg.threshold),
                SOFT=cfg.reset == "soft", SAVE_H=save_h, CDT=_compute_dtype(x), BLOCK=BLOCK,
                num_warps=NUM_WARPS,
            )
    return s_seq, h_seq


def multi_step_backward(
    grad_s: torch.Tensor, h_seq: torch.Tensor, cfg: LIFConfig
) -> torch.Tensor:
    """``∂L/∂X`` over ``[T, ...]`` from ``∂L/∂s`` and the saved H (``_FusedLIF.backward``)."""
    h = _flat_sequence(h_seq)
    g = _like(grad_s, h)
    grad_x = torch.empty_like(h)
    T = h.shape[0]
    n = h.numel() // T if T else 0
    if n:
        with _device(h):
            _multi_backward_kernel[_grid(n)](
                g, h, grad_x, n, T, (T - 1) * n, cfg.decay, float(cfg.threshold),
                **_cfg_args(cfg), CDT=_compute_dtype(h), BLOCK=BLOCK, num_warps=NUM_WARPS,
            )
    return grad_x


def rate_spike_pass(
    x_seq: torch.Tensor, cfg: LIFConfig
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Spike pass of rate-based BP: ``(s_seq, rate, eligibility)``, H never stored."""
    T = x_seq.shape[0]
    if T == 0:
        raise RuntimeError("the rate pass needs at least one time step")
    x = _flat_sequence(x_seq)
    s_seq = torch.empty_like(x)
    rate = torch.empty_like(x[0])
    elig = torch.empty_like(x[0])
    n = x.numel() // T
    if n:
        with _device(x):
            _rate_kernel[_grid(n)](
                x, s_seq, rate, elig, n, T, cfg.decay, float(cfg.threshold), **_cfg_args(cfg),
                CDT=_compute_dtype(x), BLOCK=BLOCK, num_warps=NUM_WARPS,
            )
    return s_seq, rate, elig


def single_step_forward(
    x: torch.Tensor,
    v: torch.Tensor | None,
    cfg: LIFConfig,
    threshold: torch.Tensor | float | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One step (:func:`lif.lif_step` without autograd): ``(spike, v_next, h)`` in x's dtype."""
    x = _flat(x)
    has_v = v is not None
    v_in = x if v is None else _like(v, x)  # any tensor when there is none (HAS_V=False)
    th_ptr, thr, th_is_ptr = _threshold_args(threshold, cfg, x)
    s, v_next, h = torch.empty_like(x), torch.empty_like(x), torch.empty_like(x)
    n = x.numel()
    if n:
        with _device(x):
            _step_forward_kernel[_grid(n)](
                x, v_in, th_ptr, s, v_next, h, n, cfg.decay, thr, HAS_V=has_v,
                TH_PTR=th_is_ptr, SOFT=cfg.reset == "soft", CDT=_compute_dtype(x),
                BLOCK=BLOCK, num_warps=NUM_WARPS,
            )
    return s, v_next, h


def single_step_backward(
    grad_s: torch.Tensor | None,
    grad_v_next: torch.Tensor | None,
    h: torch.Tensor,
    cfg: LIFConfig,
    threshold: torch.Tensor | float | None = None,
) -> torch.Tensor:
    """``∂L/∂H = ∂L/∂s·σ'(H − θ) + ∂L/∂V_next·∂V/∂H`` of one step (a ``None`` grad is zero).

    The step's input gets ``∂L/∂X = ∂L/∂H`` and the previous potential ``λ·∂L/∂H``.
    """
    h = _flat(h)
    gs = h if grad_s is None else _like(grad_s, h)
    gv = h if grad_v_next is None else _like(grad_v_next, h)
    th_ptr, thr, th_is_ptr = _threshold_args(threshold, cfg, h)
    grad_h = torch.empty_like(h)
    n = h.numel()
    if n:
        with _device(h):
            _step_backward_kernel[_grid(n)](
                gs, gv, h, th_ptr, grad_h, n, thr, float(cfg.alpha),
                float(cfg.alpha) * float(cfg.alpha), HAS_GS=grad_s is not None,
                HAS_GV=grad_v_next is not None, TH_PTR=th_is_ptr,
                KIND=_SURROGATES[cfg.surrogate], SOFT=cfg.reset == "soft",
                DETACH=cfg.detach_reset, CDT=_compute_dtype(h), BLOCK=BLOCK,
                num_warps=NUM_WARPS,
            )
    return grad_h


def eligibility_step(
    spikes_acc: torch.Tensor,
    elig_acc: torch.Tensor,
    kappa: torch.Tensor,
    h: torch.Tensor,
    s: torch.Tensor,
    cfg: LIFConfig,
    first: bool,
) -> None:
    """Add step t to the rate-pass accumulators in place (``Eligibility.update``).

    ``Σ s += s``, ``Σ σ'κ += σ'(H − θ)·κ_t`` and ``κ ← 1 + κ·J_t``; with ``first`` the old
    contents are ignored (κ_1 = 1). The three accumulators must share one dense layout (make
    them with ``torch.empty_like``); the rate and eligibility are the sums divided by T.
    """
    if not (_is_dense(spikes_acc) and _same_layout(elig_acc, spikes_acc)
            and _same_layout(kappa, spikes_acc)):
        raise ValueError("the accumulators must share one dense layout")
    h, s = _like(h, spikes_acc), _like(s, spikes_acc)
    n = h.numel()
    if n:
        with _device(h):
            _eligibility_step_kernel[_grid(n)](
                spikes_acc, elig_acc, kappa, h, s, n, cfg.decay, float(cfg.threshold),
                **_cfg_args(cfg), FIRST=first, CDT=_compute_dtype(elig_acc, h), BLOCK=BLOCK,
                num_warps=NUM_WARPS,
            )
