"""Record schema: round trip, validation, atomic writes."""

from __future__ import annotations

import json

import pytest
from helpers import make_cell

from benches.records import (
    SCHEMA_VERSION,
    has_ok_record,
    load_records,
    make_record,
    read_record,
    record_path,
    upgrade,
    write_record,
)


def test_round_trip(tmp_path):
    cell = make_cell("bptt", timesteps=3)
    metrics = {"test_top1": 0.93, "time_per_iter_s": 0.01, "time_per_iter_iqr_s": 0.001,
               "peak_memory_bytes": 123, "train_loss_curve": [2.0, 1.0]}
    record = make_record(cell, "ok", None, metrics, {"python": "3.11"}, matrix="m")
    path = write_record(record, tmp_path)
    assert path == record_path(tmp_path, cell) and path.name == f"{cell.key()}.json"
    back = read_record(path)
    assert back == upgrade(json.loads(json.dumps(record)))
    assert back["metrics"] == metrics and back["matrix"] == "m" and back["status"] == "ok"
    assert back["schema_version"] == SCHEMA_VERSION
    assert set(back["cell"]) >= {"method", "library", "dataset", "architecture", "timesteps",
                                 "seed", "recipe"}
    assert back["cell"]["recipe"]["epochs"] == cell.recipe["epochs"]
    assert has_ok_record(tmp_path, cell)
    assert not list(tmp_path.glob("*.tmp"))


def test_key_is_the_hash_of_the_normalised_config():
    a = make_cell("bptt", timesteps=3)
    assert a.key() == make_cell("bptt", timesteps=3).key()
    assert a.key() != make_cell("bptt", timesteps=4).key()
    assert a.key() != make_cell("bptt", timesteps=3, lr=0.2).key()


@pytest.mark.parametrize("mutate, message", [
    (lambda r: r.pop("metrics"), "lacks"),
    (lambda r: r.update(status="weird"), "status"),
    (lambda r: r.update(status="failed"), "reason"),
    (lambda r: r.update(key="0" * 16), "hash"),
    (lambda r: r["metrics"].update(test_top1=93.0), "test_top1"),
    (lambda r: r.update(schema_version=0), "schema_version"),
])
def test_invalid_records_are_refused(tmp_path, mutate, message):
    record = make_record(make_cell("bptt"), "ok", None, {"test_top1": 0.5})
    mutate(record)
    with pytest.raises(ValueError, match=message):
        write_record(record, tmp_path)
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_non_finite_numbers_become_null(tmp_path):
    record = make_record(make_cell("bptt"), "ok", None, {"train_loss_curve": [float("nan")]})
    path = write_record(record, tmp_path)
    assert json.loads(path.read_text())["metrics"]["train_loss_curve"] == [None]


def test_unreadable_files_are_reported_not_loaded(tmp_path):
    write_record(make_record(make_cell("bptt"), "ok", None, {}), tmp_path)
    (tmp_path / "broken.json").write_text("{not json")
    records, problems = load_records(tmp_path)
    assert len(records) == 1 and len(problems) == 1 and "broken.json" in problems[0]


def test_upgrade_fills_what_older_records_lack(tmp_path):
    """A record as an earlier version wrote it (no about, matrix, command; an env without a
    library block) reads with every key of ``Record``, defaults where it had none."""
    cell = make_cell("bptt", timesteps=3)
    old = make_record(cell, "ok", None, {"test_top1": 0.5}, {"python": "3.11"})
    old["cell"].pop("precision")
    back = read_record(write_record(old, tmp_path))
    assert back["matrix"] is None and back["command"] is None and back["duration_s"] is None
    assert back["about"] == {"method": {}, "dataset": {}, "paper_setup": None}
    assert back["env"]["library"] == {} and back["env"]["versions"] == {}
    assert back["cell"]["precision"] == "fp32"
    declared = make_record(cell, "skipped", "why", about={"method": {"name": "bptt"}})
    about = read_record(write_record(declared, tmp_path / "b"))["about"]
    assert about["method"]["name"] == "bptt" and about["method"]["recipes"] == {}
    assert about["method"]["complexity"]["memory"] == "?"
