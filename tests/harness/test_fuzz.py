"""Property-based fuzzing: any matrix file ends in exit 0 or exit 2 with at most two lines on
stderr and never a traceback; the record reader never raises on random or truncated JSON."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benches.commands import main
from benches.plan.matrix import AXES, SCALARS
from benches.records import load_records

NAMES = ["bptt", "sltt_k", "rate_m", "digits", "digits_seq", "nope", "torch", "cpu", "cuda",
         "train", "efficiency", "common", "paper", "fp32", "bf16", ""]
SCALAR = st.one_of(st.integers(-3, 20), st.floats(-2, 5, allow_nan=False), st.booleans(),
                   st.sampled_from(NAMES))
VALUE = st.one_of(SCALAR, st.lists(SCALAR, max_size=3))
KEYS = st.sampled_from([*AXES, *SCALARS, "recipe", "params", "bogus"])
RECIPE = st.dictionaries(st.sampled_from(["lr", "epochs", "augment", "tau", "lrr", "reset"]),
                         VALUE, max_size=3)
PARAMS = st.dictionaries(st.sampled_from(["k", "K"]), VALUE, max_size=2)


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    return "[" + ", ".join(toml_value(v) for v in value) + "]"


@st.composite
def matrix_text(draw) -> str:
    lines = ['description = "fuzz"']
    if draw(st.booleans()):
        lines.append(f"timeout_s = {toml_value(draw(SCALAR))}")
    for _ in range(draw(st.integers(0, 2))):
        lines.append("[[grid]]")
        grid = draw(st.dictionaries(KEYS, VALUE, max_size=6))
        for key, value in grid.items():
            if key == "recipe":
                value = draw(RECIPE)
            elif key == "params":
                value = draw(PARAMS)
            lines.append(f"{key} = {toml_value(value)}")
    return "\n".join(lines) + "\n"


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.one_of(matrix_text(), st.text(max_size=80)))
def test_any_matrix_file_is_exit_0_or_2_in_two_lines(tmp_path, capsys, text):
    path = tmp_path / "fuzz.toml"
    path.write_text(text)
    code = main(["run", "--matrix", str(path), "--dry-run", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code in (0, 2), (text, err)
    assert "Traceback" not in err
    if code == 2:
        assert len(err.strip().splitlines()) <= 2, err


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.one_of(st.text(max_size=200), st.binary(max_size=200).map(
    lambda b: b.decode("latin-1"))), cut=st.integers(0, 400))
def test_the_record_reader_never_raises(tmp_path, text, cut):
    good = ('{"schema_version": 1, "key": "0", "status": "ok", "reason": null, '
            '"cell": {}, "metrics": {}, "env": {}}')
    (tmp_path / "a.json").write_text(text)
    (tmp_path / "b.json").write_text(good[:cut])
    records, problems = load_records(tmp_path)
    assert len(records) + len(problems) == 2


COMMANDS = ["run", "list", "show", "site", "compare", "nope", ""]
FLAGS = ["--matrix", "--methods", "--datasets", "--libraries", "--timesteps", "--seeds",
         "--epochs", "--device", "--threads", "--precision", "--compile", "--timeout",
         "--memory-limit", "--jobs", "--cpus-per-cell", "--gpus-per-cell", "--time-limit",
         "--resume", "--strict", "--list", "--record-hostname", "--results", "--dataset",
         "--format", "--width", "--efficiency", "--alignment", "--fail-on", "--sigmas",
         "--markdown", "--data-root", "--bogus", "-x", "--"]
VALUES = ["default", "smoke", "paper", "nope.toml", "bptt", "bptt,nope", "sltt_k", "digits",
          "digits_seq", "shd", "torch", "snntorch", "cpu", "cuda", "fp32", "bf16", "true",
          "maybe", "plain", "csv", "0", "1", "-1", "2", "8", "1.5", "1e9", "nan", "inf", "x", "",
          "methods", "datasets", "matrices", "results", "missing-folder", "top1"]


PAIR = st.tuples(st.sampled_from(FLAGS), st.sampled_from(VALUES)).map(list)
TOKEN = st.one_of(st.sampled_from(FLAGS), st.sampled_from(VALUES), st.text(max_size=6)).map(
    lambda t: [t])


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(command=st.sampled_from(COMMANDS), matrix=st.booleans(),
       tokens=st.lists(st.one_of(PAIR, PAIR, TOKEN), max_size=4).map(
           lambda parts: [t for part in parts for t in part]))
def test_any_command_line_is_exit_0_1_or_2_in_two_lines(tmp_path, capsys, monkeypatch,
                                                         command, matrix, tokens):
    """Random command lines (run always with --dry-run: nothing trains): exit 0, 2, or 1 where
    the command's own verdict says so (compare: a regression), one or two lines on stderr for
    an error, never a traceback."""
    monkeypatch.chdir(tmp_path)  # default records and site folders land here
    argv = [command, *tokens] if command else tokens
    if command == "run":
        argv += [*(["--matrix", "smoke"] if matrix else []), "--dry-run", "--out",
                 str(tmp_path / "r")]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        code = exc.code
    out = capsys.readouterr()
    assert "Traceback" not in out.err and "Traceback" not in out.out, (argv, out.err)
    assert code in (0, 1, 2), (argv, code, out.err)
    if code == 2:
        assert 1 <= len(out.err.strip().splitlines()) <= 2, (argv, out.err)
    if command == "run" and any(t in ("nan", "inf") for t in tokens):  # never a valid number
        numeric = {"--epochs", "--timeout", "--memory-limit", "--threads", "--jobs"}
        pairs = zip(argv[:-1], argv[1:], strict=True)
        if any(a in numeric and b in ("nan", "inf") for a, b in pairs):
            assert code == 2, (argv, out.err)
