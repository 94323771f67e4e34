"""The static site: one table per dataset from the metric schema, strings escaped."""

from __future__ import annotations

from helpers import make_cell

from benches.records import make_record, write_record
from benches.schema import LEADERBOARD, METRICS
from benches.site import render_site


def ok_record(method, seed, top1, **recipe):
    cell = make_cell(method, timesteps=4, seed=seed, **recipe)
    metrics = {"test_top1": top1, "time_per_iter_s": 0.0123, "activation_bytes": 3 * 2**20,
               "peak_memory_bytes": 500 * 2**20, "samples_per_s": 1000.0}
    env = {"device_name": "test-cpu", "cpu_model": "test-cpu", "versions": {"torch": "x"}}
    return make_record(cell, "ok", None, metrics, env, matrix="m")


def test_leaderboard_rows_columns_and_escaping(tmp_path):
    results, site = tmp_path / "results", tmp_path / "site"
    write_record(ok_record("bptt", 0, 0.90), results)
    write_record(ok_record("bptt", 1, 0.94), results)
    write_record(ok_record("rate_m", 0, 0.91), results)
    write_record(ok_record("bptt", 0, 0.80, reset="hard"), results)
    evil = make_cell("sltt", timesteps=4)
    write_record(make_record(evil, "skipped", "<script>alert('x')</script> & more"), results)
    html = render_site(str(results), str(site)).read_text()
    assert "92.00 ± 2.83" in html  # bptt over two seeds: mean ± sample std
    assert "91.00" in html and "80.00" in html
    assert "reset=hard" in html  # the recipe variant tells the hard-reset row apart
    for key in LEADERBOARD[:4]:
        assert METRICS[key].title in html
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more" in html
    assert "test-cpu" in html  # the environment of the rows
