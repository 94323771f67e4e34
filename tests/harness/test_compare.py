"""``benches compare A B``: cells matched by key, noise thresholds, exit status, listings."""

from __future__ import annotations

import argparse
import json

import pytest
from helpers import make_cell

from benches.commands.compare import add_parser
from benches.commands.compare import run as cmd_compare
from benches.errors import UserError
from benches.records import make_record, write_record

TOP1 = {0: 0.950, 1: 0.956, 2: 0.944}  # seed std 0.6 pp


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="benches")
    add_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["compare", *map(str, argv)])


def record(method="bptt", seed=0, top1=None, time=0.010, iqr=0.001, act=10 * 2**20,
           status="ok", extra=None, **cell_kw):
    cell = make_cell(method, seed=seed, **cell_kw)
    if status != "ok":
        return make_record(cell, status, "boom", {}, {})
    extra = extra or {}
    metrics = {"test_top1": TOP1[seed] if top1 is None else top1, "time_per_iter_s": time,
               "time_per_iter_iqr_s": iqr, "time_per_iter_samples_s": [time] * 5,
               "activation_bytes": act, **extra}
    return make_record(cell, "ok", None, metrics, {"cpu_model": "test"})


def fill(folder, changes=None):
    """bptt and rate_m over three seeds; ``changes[(method, seed)]`` overrides metrics."""
    changes = changes or {}
    for method in ("bptt", "rate_m"):
        for seed in TOP1:
            write_record(record(method, seed, **changes.get((method, seed), {})), folder)


@pytest.fixture
def folders(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    fill(a)
    return a, b


def run(capsys, *argv):
    status = cmd_compare(parse(*argv))
    return status, capsys.readouterr().out


def test_identical_folders_pass(folders, capsys):
    a, b = folders
    fill(b)
    status, out = run(capsys, a, b)
    assert status == 0
    assert "6 compared, 0 regressed" in out
    assert out.count("| same ") == 6
    assert "## Regressions" not in out and "## Not compared" not in out


def test_accuracy_drop_over_the_seeds_fails_and_names_the_cells(folders, capsys):
    """A configuration with seeds in both folders is judged by the paired test over its seeds
    (as the leaderboard's groups): rate_m loses 2.0–3.0 pp at every seed, so each of its cells
    regressed; bptt loses 1.0 pp at one seed only, which the test cannot tell from noise."""
    a, b = folders
    fill(b, {("rate_m", 0): {"top1": 0.930}, ("rate_m", 1): {"top1": 0.931},
             ("rate_m", 2): {"top1": 0.914}, ("bptt", 2): {"top1": 0.934}})
    status, out = run(capsys, a, b)
    assert status == 1
    regressions = out.split("## Regressions")[1]
    for seed in (0, 1, 2):
        assert f"rate_m digits/convnet_digits T=4 s{seed} torch" in regressions
    assert "top-1 95.60 → 93.10" in regressions
    assert "bptt" not in regressions  # one seed's drop: within the noise
    row = next(line for line in out.splitlines() if "rate_m" in line and " s1 " in line)
    assert "REGRESSED top-1" in row and "-2.50" in row
    # not gated on accuracy: shown, but the exit status is 0
    status, out = run(capsys, a, b, "--fail-on", "time,memory")
    assert status == 0 and "worse top-1" in out


def test_the_configuration_test_is_the_leaderboards(folders, tmp_path):
    """compare's verdict on a configuration is the paired t-test of report.significance."""
    from benches.report.compare import config_tests, read_folder
    from benches.report.significance import pair_test

    a, b = folders
    fill(b, {("rate_m", 0): {"top1": 0.930}, ("rate_m", 1): {"top1": 0.931},
             ("rate_m", 2): {"top1": 0.914}})
    tests = config_tests(read_folder(str(a)), read_folder(str(b)))
    assert len(tests) == 2  # bptt's and rate_m's configurations, three shared seeds each
    rate_m = next(t for t in tests.values() if t.difference < 0)
    direct = pair_test("B", {0: 0.930, 1: 0.931, 2: 0.914}, "A", TOP1)
    assert rate_m.p == pytest.approx(direct.p) and rate_m.p_adjusted == pytest.approx(
        min(1.0, 2 * direct.p))


def test_single_seed_uses_the_absolute_floor(tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    write_record(record(top1=0.950), a)
    write_record(record(top1=0.946), b)  # -0.4 pp: within the 0.5 pp floor
    assert run(capsys, a, b)[0] == 0
    write_record(record(top1=0.944), b)  # -0.6 pp
    status, out = run(capsys, a, b)
    assert status == 1 and "±0.50" in out


def test_time_increase_within_the_iqr_passes(folders, capsys):
    a, b = folders
    # +1.5 ms on 10 ms: above the 10 % floor, within 2 × IQR (2.0 ms)
    fill(b, {("bptt", 0): {"time": 0.0115, "iqr": 0.0008}})
    status, out = run(capsys, a, b)
    assert status == 0
    row = next(line for line in out.splitlines() if "bptt" in line and " s0 " in line)
    assert "+1.50 ±2.00" in row and "| same" in row
    # past it: +2.5 ms
    fill(b, {("bptt", 0): {"time": 0.0125}})
    status, out = run(capsys, a, b)
    assert status == 1 and "REGRESSED time" in out


def test_memory_increase_fails_and_improvements_never_do(folders, capsys):
    a, b = folders
    fill(b, {("bptt", 1): {"act": 11 * 2**20}, ("rate_m", 0): {"act": 2**20, "time": 0.005,
                                                                "top1": 0.99}})
    status, out = run(capsys, a, b)
    assert status == 1
    assert "REGRESSED memory" in out and "better time,memory" in out  # one seed's top-1: noise
    assert out.split("## Regressions")[1].count("\n- ") == 1
    assert run(capsys, a, b, "--fail-on", "none")[0] == 0


def test_other_schema_and_unmatched_keys_are_listed_not_compared(folders, capsys):
    a, b = folders
    fill(b)
    only_a = record("sltt", seed=0)
    write_record(only_a, a)
    failed = record("os", seed=0, status="failed")
    write_record(failed, b)
    write_record(record("os", seed=0), a)
    future = record("ottt_a", seed=0)
    future["schema_version"] = 2
    (a / f"{future['key']}.json").write_text(json.dumps(future))
    (b / "0123456789abcdef.json").write_text("{not json")
    status, out = run(capsys, a, b)
    assert status == 0
    assert "6 compared, 0 regressed" in out and "4 not compared" in out
    listed = out.split("## Not compared")[1]
    lines = {line.split("|")[2].strip(): line for line in listed.splitlines()
             if line.startswith("| ") and "key" not in line}
    assert "| ok " in lines[only_a["key"]] and "sltt" in lines[only_a["key"]]
    assert "| schema v2 (ok) " in lines[future["key"]] and "ottt_a" in lines[future["key"]]
    assert "| failed " in lines[failed["key"]]
    assert "| unreadable " in lines["0123456789abcdef"]
    # gating on status: ok in A, failed in B
    status, out = run(capsys, a, b, "--fail-on", "accuracy", "status")
    assert status == 1 and "ok in A, failed in B" in out


def test_user_errors(folders, tmp_path, capsys):
    a, _ = folders
    with pytest.raises(UserError, match="does not exist"):
        cmd_compare(parse(a, tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no records"):
        cmd_compare(parse(tmp_path / "empty", a))
    with pytest.raises(UserError, match="unknown metric"):
        cmd_compare(parse(a, a, "--fail-on", "speed"))
    with pytest.raises(UserError, match="--sigmas"):
        cmd_compare(parse(a, a, "--sigmas", "-1"))
    other = tmp_path / "other"
    write_record(record("sltt"), other)
    with pytest.raises(UserError, match="nothing to compare"):
        cmd_compare(parse(a, other))


def test_help_states_the_noise_rules():
    parser = argparse.ArgumentParser(prog="benches")
    sub = parser.add_subparsers(dest="command")
    add_parser(sub)
    text = sub.choices["compare"].format_help()
    assert "SIGMAS * std" in text and "IQRS * max(IQR_A, IQR_B)" in text
    assert "--fail-on" in text and "--mem-tolerance" in text


def test_energy_and_flops_changes_are_reported_and_gated_on_request(tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    counted = {"energy_uj": 0.25, "flops_per_iter": 2e8}
    write_record(record(extra=counted), a)
    write_record(record(extra={**counted, "energy_uj": 0.30}), b)  # +20 %: past 0.1 %
    status, out = run(capsys, a, b)
    assert status == 0 and "worse energy" in out  # shown, not gated by default
    assert "0.2500" in out and "0.3000" in out and "+0.0500" in out
    status, out = run(capsys, a, b, "--fail-on", "energy")
    assert status == 1 and "REGRESSED energy" in out


def test_synops_and_sparsity_changes_follow_their_direction(tmp_path, capsys):
    """Fewer synaptic operations are better, less sparsity is worse."""
    a, b = tmp_path / "a", tmp_path / "b"
    write_record(record(extra={"synops": 1.0e5, "activation_sparsity": 0.80}), a)
    write_record(record(extra={"synops": 0.8e5, "activation_sparsity": 0.70}), b)
    status, out = run(capsys, a, b, "--fail-on", "synops")
    assert status == 0 and "better synops" in out and "worse sparsity" in out
    status, out = run(capsys, a, b, "--fail-on", "sparsity")
    assert status == 1 and "REGRESSED sparsity" in out
