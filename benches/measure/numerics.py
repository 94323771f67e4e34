"""Pinned CPU numerics: the same accuracy on every machine.

A CPU kernel's result depends on the instruction set it runs with (AVX-512 and AVX2 kernels of
the same operation round differently), and training amplifies those last bits: the same cell
moved by up to 2.5 pp of top-1 between AVX-512 and AVX2 on one machine. A ``pinned`` cell fixes,
in its own process and before its first operation, the code path of each library that picks
one at run time:

* ATen's kernels: ``ATEN_CPU_CAPABILITY=avx2``;
* oneDNN's convolutions and matrix products: ``ONEDNN_MAX_CPU_ISA=AVX2``;
* MKL's BLAS: conditional numerical reproducibility ``MKL_CBWR=AVX2`` (and
  ``MKL_ENABLE_INSTRUCTIONS=AVX2``).

AVX2 (with FMA) is on every x86-64 processor since Intel Haswell (2013) and AMD Zen (2017). On a
machine without it, or on another architecture (Arm), the cell runs unpinned: one line says so
on stderr and the record says why. Values the user set for these variables are overridden in a
pinned cell (that is the point) and left alone in a ``native`` one.
"""

from __future__ import annotations

import os
import platform
import sys
from typing import Any

LEVEL = "avx2"
PINNED_ENV = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "AVX2",
              "MKL_ENABLE_INSTRUCTIONS": "AVX2"}
REQUIRED_FLAGS = ("avx2", "fma")


def cpu_flags() -> set[str] | None:
    """The CPU's feature flags (``/proc/cpuinfo``), or None where they cannot be read."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        return None
    return None


def why_not_pinnable() -> str | None:
    """Why this machine cannot run at :data:`LEVEL` (None if it can)."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return f"{platform.machine()} is not x86-64"
    flags = cpu_flags()
    if flags is None:
        return "the CPU's flags are unreadable (no /proc/cpuinfo)"
    missing = [f for f in REQUIRED_FLAGS if f not in flags]
    return f"the CPU lacks {', '.join(missing)}" if missing else None


def pin(numerics: str, device: str) -> str | None:
    """Pin this process's CPU numerics if ``numerics`` asks for it (call before any torch
    operation). Returns why a requested pin did not happen (None otherwise)."""
    if numerics != "pinned" or device != "cpu":
        return None
    why = why_not_pinnable()
    if why is not None:
        print(f"benches: {why}: this cell's numerics are not pinned, so its accuracy may "
              f"differ from pinned ({LEVEL}) runs", file=sys.stderr)
        return why
    os.environ.update(PINNED_ENV)
    return None


def numerics_block(numerics: str, device: str, why_not: str | None) -> dict[str, Any]:
    """What the record says of the cell's numerics: asked for, in effect, and the code paths
    the libraries actually took."""
    import torch

    pinned = numerics == "pinned" and device == "cpu" and why_not is None
    return {"requested": numerics, "pinned": pinned, "level": LEVEL if pinned else None,
            "not_pinned_because": why_not,
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            **{k.lower(): os.environ.get(k) for k in PINNED_ENV}}
