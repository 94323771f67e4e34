"""Harness overhead: the suite's training iteration against a bare hand-written BPTT loop on the
same model, batch and optimizer. Target: ≤ 2 %."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from bench_helpers import interleaved_medians, set_threads

from benches.cell import Cell
from benches.measure.timing import IterationTimer
from datasets import get_dataset
from methods import get_method
from methods.snn.functional import set_step_mode

TARGET = 1.02


def test_harness_overhead(benchmark):
    old = set_threads(2)
    torch.manual_seed(0)
    T, B = 4, 64
    digits = get_dataset("digits")
    recipe = get_method("bptt").recipe_for("common").updated(**digits.recipe_defaults)
    method = get_method("bptt")(Cell("bptt", "torch", "digits", "convnet_digits", T, 0,
                                     recipe=recipe.to_dict()))
    model = method.build(digits.in_shape, digits.num_classes)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = digits.splits(T).train.tensors
    x, y = x[:B], y[:B]
    timer = IterationTimer(torch.device("cpu"))
    losses = []

    def bare():
        set_step_mode(model, "m", T)
        out = model(x.unsqueeze(0).repeat(T, 1, 1, 1, 1).flatten(0, 1))
        loss = F.cross_entropy(out.view(T, B, -1).mean(0), y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    def harness():
        x_seq = digits.encode(x, T)
        with timer.iteration():
            losses.append(method.train_step(model, x_seq, y, opt, timer))

    try:
        medians = interleaved_medians({"bare": bare, "harness": harness}, rounds=300)
        ratio = medians["harness"] / medians["bare"]
        benchmark.extra_info.update(bare_ms=1e3 * medians["bare"],
                                    harness_ms=1e3 * medians["harness"], ratio=ratio)
        print(f"\nharness {1e3 * medians['harness']:.3f} ms vs bare {1e3 * medians['bare']:.3f}"
              f" ms: ratio {ratio:.4f} (target ≤ {TARGET})")
        benchmark.pedantic(harness, rounds=20, iterations=1)
        assert ratio <= TARGET
    finally:
        set_threads(old)
