"""Every method computes the same gradient with the fused Triton LIF kernels (the GPU path) as
with the plain-PyTorch reference: checked on the CPU through Triton's interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch
from helpers import need_triton_interpreter

HERE = Path(__file__).resolve().parents[1]  # tests/: fused_gradients.py and helpers.py


def run(interpret: bool) -> dict:
    env = {**os.environ, "PYTHONPATH": f"{HERE.parent}{os.pathsep}{HERE}"}
    env.pop("TRITON_INTERPRET", None)
    if interpret:
        env["TRITON_INTERPRET"] = "1"
    out = subprocess.run([sys.executable, str(HERE / "fused_gradients.py")], env=env,
                         capture_output=True, text=True, timeout=600, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_fused_kernels_give_every_method_the_reference_gradient():
    need_triton_interpreter()
    fused, reference = run(interpret=True), run(interpret=False)
    assert fused["fused"] and not reference["fused"]
    assert fused["grads"].keys() == reference["grads"].keys()
    for method, grads in reference["grads"].items():
        assert grads, method
        for name, g in grads.items():
            torch.testing.assert_close(torch.tensor(fused["grads"][method][name]),
                                       torch.tensor(g), rtol=1e-12, atol=1e-15,
                                       msg=f"{method}: {name}")
