"""show, site and compare list unreadable, foreign and future-schema files and go on."""

from __future__ import annotations

import json

from site_records import write_site_records

from benches.commands import main


def spoil(folder) -> dict[str, str]:
    """Bad files beside good records: name → what is wrong with it."""
    good = sorted(folder.glob("*.json"))[0]
    record = json.loads(good.read_text())
    bad = {
        "garbage.json": "{not json",
        "truncated.json": good.read_text()[: len(good.read_text()) // 2],
        "foreign.json": json.dumps({"name": "someone else's file"}),
        "future.json": json.dumps({**record, "schema_version": 99}),
        "empty.json": "",
    }
    for name, text in bad.items():
        (folder / name).write_text(text)
    return bad


def test_readers_list_bad_files_and_go_on(tmp_path, capsys):
    results = tmp_path / "results"
    write_site_records(results)
    bad = spoil(results)
    assert main(["show", "--results", str(results), "--width", "120"]) == 0
    out = capsys.readouterr().out
    for name in bad:
        assert name in out
    assert "schema_version 99" in out
    assert main(["site", "--results", str(results), "--out", str(tmp_path / "site")]) == 0
    env = (tmp_path / "site" / "environment.html").read_text()
    assert all(name in env for name in bad)
    other = tmp_path / "other"
    write_site_records(other)
    code = main(["compare", str(other), str(results)])
    assert code in (0, 1)  # a report, not a crash
    report = capsys.readouterr().out
    assert "unreadable" in report or "future.json" in report


def test_records_written_before_about_precision_and_compile_still_read(tmp_path, capsys):
    results = tmp_path / "results"
    write_site_records(results)
    for path in results.glob("*.json"):  # as the first schema-1 records were written
        record = json.loads(path.read_text())
        for key in ("about", "command"):
            record.pop(key, None)
        for key in ("precision", "compile"):
            record["cell"].pop(key, None)
        record["metrics"].pop("test_samples", None)
        path.write_text(json.dumps(record))
    assert main(["show", "--results", str(results), "--width", "120"]) == 0
    out = capsys.readouterr().out
    assert "92.00 ± 2.00" in out and "Unreadable" not in out  # 2 decimals: size unknown
    assert main(["site", "--results", str(results), "--out", str(tmp_path / "site")]) == 0
    board = (tmp_path / "site" / "board-digits-convnet-digits.html").read_text()
    assert "92.00" in board
