"""``benches compare A B``: compare two results folders cell by cell, with noise thresholds.

Records are matched by their cell key (the record file's name). A cell is compared when its
record is ``ok`` in both folders; every other record (a key in one folder only, a status other
than ``ok`` on either side, another schema version, an unreadable file) is listed under
"not compared" with its state on each side, never compared.

Per compared cell, three metrics, each with a threshold taken from the records' own spread:

* **Top-1** (``test_top1``). A cell is one seed, so the spread comes from the seeds of the same
  configuration: the ok records whose cell equals this one except for ``seed``. σ is the sample
  standard deviation (ddof 1) of their top-1 in A, the baseline; in B only when A has fewer than
  two seeds of the configuration (B's spread contains the change under test: one collapsed seed
  would widen its own threshold). Threshold = max(K·σ, FLOOR) with K = ``--sigmas`` (default 3)
  and FLOOR = ``--acc-floor`` percentage points (default 0.5, about two test images of
  ``digits``; the whole threshold when neither folder has two seeds). Regressed when
  B − A < −threshold.
* **Time per iteration** (``time_per_iter_s``, the median of the timed iterations). Each record
  carries the IQR of its iteration times (``time_per_iter_iqr_s``, else computed from
  ``time_per_iter_samples_s``). Threshold = max(K·max(IQR_A, IQR_B), R·time_A) with
  K = ``--iqrs`` (default 2) and R = ``--time-floor`` percent (default 10). Regressed when
  B − A > threshold.
* **Activation memory** (``activation_bytes``): deterministic, so the tolerance is only
  ``--mem-tolerance`` percent of A (default 0.1). Regressed when B − A > tolerance.

A change the other way by more than the threshold is shown as an improvement and never fails.
A metric missing on either side is shown as "–" and not judged. The exit status is 1 when a
cell regressed in a metric named by ``--fail-on`` (default: accuracy time memory; ``status``
adds cells that are ok in A but failed, timed out or ran out of memory in B), else 0.
"""

from __future__ import annotations

import dataclasses
import json
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benches.errors import UserError
from benches.records import BROKEN, SCHEMA_VERSION, Record, load_records
from benches.schema import METRICS, number

if TYPE_CHECKING:  # the tests need scipy and pandas; the CLI's parser does not load them
    from benches.report.significance import PairTest

GATES = ("accuracy", "time", "memory", "energy", "synops", "sparsity", "flops", "status")
DEFAULT_GATES = ("accuracy", "time", "memory")

RULES = """\
noise rules (per cell, A = first folder, B = second):
  top-1   a configuration (the cell except its seed) with 2 or more seeds ok in both folders
          is judged as the leaderboard's groups are: a paired t-test of B against A over those
          seeds, Holm-corrected over the configurations compared, alpha 0.05; every cell of it
          is worse (or better) when B's top-1 is significantly lower (higher); the threshold
          shown is the difference detectable at 80 % power. With fewer seeds: threshold =
          max(SIGMAS * std, ACC_FLOOR), where std is the std (ddof 1) of top-1 over the ok
          records of A with the same cell except the seed (of B if A has one seed; with one
          seed in both, the floor alone); regressed if B < A - threshold
  time    threshold = max(IQRS * max(IQR_A, IQR_B), TIME_FLOOR% of A) on the median time per
          iteration (IQR from the record, else from its samples); regressed if B > A + threshold
  memory  activation bytes are deterministic: regressed if B > A + MEM_TOLERANCE% of A
  energy, synops, sparsity, flops  inference energy, synaptic operations and activation
          sparsity per sample, and training FLOPs per iteration are counts, as deterministic:
          worse if B is MEM_TOLERANCE% of A worse (sparsity: lower, the others: higher; gated
          only with --fail-on)
improvements are shown but never fail; exit status 1 if a cell regressed in a --fail-on metric
(status: ok in A, failed/timeout/oom in B), else 0; 2 for a usage error"""




# --------------------------------------------------------------------------------------------
# Reading a folder


@dataclass
class Folder:
    path: Path
    ok: dict[str, Record] = field(default_factory=dict)  # key → ok record
    state: dict[str, str] = field(default_factory=dict)  # key → status or problem, every file
    cells: dict[str, dict] = field(default_factory=dict)  # key → cell dict (for labels)
    top1_by_seed: dict[str, dict[int, float]] = field(default_factory=dict)  # config → seeds
    records: int = 0


def _config_id(cell: dict) -> str:
    """The cell without its seed, as a stable string: the seeds of one configuration."""
    from benches.cell import Cell

    data = Cell.from_dict(cell).to_dict()
    data.pop("seed", None)
    return json.dumps(data, sort_keys=True, default=str)


def read_folder(path: str) -> Folder:
    folder = Folder(Path(path))
    if not folder.path.is_dir():
        raise UserError(f"results folder {path} does not exist")
    records, problems = load_records(folder.path)
    for record in records:
        key = record["key"]
        folder.state[key] = record["status"]
        folder.cells[key] = record["cell"]
        if record["status"] == "ok":
            folder.ok[key] = record
            top1 = _number(record["metrics"].get("test_top1"))
            if top1 is not None:
                config = _config_id(record["cell"])
                folder.top1_by_seed.setdefault(config, {})[record["cell"]["seed"]] = top1
    for problem in problems:
        name, _, why = problem.partition(": ")
        key = name.removesuffix(".json")
        folder.state[key], cell = _problem_state(folder.path / name, why)
        if isinstance(cell, dict):
            folder.cells.setdefault(key, cell)
    folder.records = len(records)
    if not records:
        extra = f" ({len(problems)} not readable as schema {SCHEMA_VERSION})" if problems else ""
        raise UserError(f"no records in {path}{extra}")
    return folder


def _problem_state(path: Path, why: str) -> tuple[str, Any]:
    """A short state for a file that failed validation, and its raw cell if it has one."""
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError):
        return "unreadable", None
    if not isinstance(raw, dict):
        return "unreadable", None
    version = raw.get("schema_version")
    if version != SCHEMA_VERSION:
        status = raw.get("status")
        return f"schema v{version}" + (f" ({status})" if status else ""), raw.get("cell")
    return f"invalid: {_short(why, 40)}", raw.get("cell")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _short(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def label(cell: dict | None, key: str = "") -> str:
    """method dataset/architecture T seed library, plus what sets the cell apart."""
    if not isinstance(cell, dict):
        return key
    g = cell.get
    parts = [str(g("method", "?"))]
    params = g("params")  # a raw cell of a file of another schema may lack it
    if isinstance(params, dict):
        parts += [f"{k}={v}" for k, v in sorted(params.items())]
    parts.append(f"{g('dataset', '?')}/{g('architecture', '?')}")
    parts += [f"T={g('timesteps', '?')}", f"s{g('seed', '?')}", str(g("library", "?"))]
    if g("backend") not in (None, "torch", g("library")):
        parts[-1] += f"/{g('backend')}"
    recipe = g("recipe")
    if isinstance(recipe, dict) and recipe.get("track", "common") != "common":
        parts.append(str(recipe["track"]))
    if g("precision", "fp32") != "fp32":
        parts.append(str(g("precision")))
    if g("compile"):
        parts.append("compiled")
    if g("mode", "train") != "train":
        parts.append(str(g("mode")))
    if g("device", "cpu") != "cpu":
        parts.append(str(g("device")))
    return " ".join(parts)


# --------------------------------------------------------------------------------------------
# Comparing


@dataclass
class Change:
    metric: str  # "top-1", "time", "memory"
    a: float | None
    b: float | None
    threshold: float | None
    verdict: str  # "same", "worse", "better", "n/a"

    @property
    def delta(self) -> float | None:
        return None if self.a is None or self.b is None else self.b - self.a


@dataclass
class Rules:
    sigmas: float = 3.0
    acc_floor_pp: float = 0.5
    iqrs: float = 2.0
    time_floor_pct: float = 10.0
    mem_tolerance_pct: float = 0.1


def _judge(metric: str, a: float | None, b: float | None, threshold: float | None,
           lower_is_better: bool) -> Change:
    if a is None or b is None or threshold is None:
        return Change(metric, a, b, threshold, "n/a")
    delta = b - a if lower_is_better else a - b  # > 0: worse
    verdict = "worse" if delta > threshold else "better" if -delta > threshold else "same"
    return Change(metric, a, b, threshold, verdict)


def _seed_std(values: list[float] | None) -> float | None:
    return statistics.stdev(values) if values and len(values) >= 2 else None


def _iqr(metrics: dict) -> float | None:
    value = _number(metrics.get("time_per_iter_iqr_s"))
    if value is not None:
        return value
    samples = [v for v in (_number(s) for s in metrics.get("time_per_iter_samples_s") or [])
               if v is not None]
    if len(samples) < 2:
        return None
    q = statistics.quantiles(samples, n=4, method="inclusive")
    return q[2] - q[0]


def config_tests(a: Folder, b: Folder) -> dict[str, PairTest]:
    """Configuration → the paired test of B's top-1 against A's over their shared seeds (two
    or more), Holm-corrected over the configurations (:mod:`.significance`)."""
    from benches.report.significance import holm, pair_test

    tests = {config: pair_test("B", b.top1_by_seed[config], "A", seeds)
             for config, seeds in a.top1_by_seed.items()
             if len(set(seeds) & set(b.top1_by_seed.get(config, {}))) >= 2}
    adjusted = holm([t.p for t in tests.values()])
    return {config: dataclasses.replace(t, p_adjusted=q)
            for (config, t), q in zip(tests.items(), adjusted, strict=True)}


def _top1_change(ma: dict, mb: dict, test: PairTest | None, threshold: float) -> Change:
    """The top-1 change of a cell: its configuration's test where there is one, else the
    threshold rule."""
    from benches.report.significance import detectable_difference

    top_a, top_b = _number(ma.get("test_top1")), _number(mb.get("test_top1"))
    if test is None or top_a is None or top_b is None:
        return _judge("top-1", top_a, top_b, threshold, lower_is_better=False)
    verdict = "same" if not test.differs else "worse" if test.difference < 0 else "better"
    return Change("top-1", top_a, top_b, detectable_difference(test.spread, test.n), verdict)


def compare_cell(key: str, a: Folder, b: Folder, rules: Rules,
                 tests: dict[str, PairTest] | None = None) -> list[Change]:
    ra, rb = a.ok[key], b.ok[key]
    ma, mb = ra["metrics"], rb["metrics"]
    config = _config_id(ra["cell"])
    std = _seed_std(list(a.top1_by_seed.get(config, {}).values()))
    if std is None:
        std = _seed_std(list(b.top1_by_seed.get(config, {}).values())) or 0.0
    acc_thr = max(rules.sigmas * std, rules.acc_floor_pp / 100.0)
    top1 = _top1_change(ma, mb, (tests or {}).get(config), acc_thr)

    ta, tb = _number(ma.get("time_per_iter_s")), _number(mb.get("time_per_iter_s"))
    time_thr = None
    if ta is not None:
        iqrs = [v for v in (_iqr(ma), _iqr(mb)) if v is not None]
        time_thr = max(rules.iqrs * max(iqrs, default=0.0), rules.time_floor_pct / 100.0 * ta)
    time = _judge("time", ta, tb, time_thr, lower_is_better=True)

    counted = [_counted(name, ma, mb, rules) for name in COUNTED]
    return [top1, time, *counted]


def _counted(name: str, ma: dict, mb: dict, rules: Rules) -> Change:
    """A deterministic count (activation bytes, inference costs, training FLOPs): worse past
    MEM_TOLERANCE% of A, in the direction the schema gives."""
    xa, xb = _number(ma.get(KEY_OF[name])), _number(mb.get(KEY_OF[name]))
    threshold = None if xa is None else rules.mem_tolerance_pct / 100.0 * xa
    return _judge(name, xa, xb, threshold,
                  lower_is_better=METRICS[KEY_OF[name]].lower_is_better)


COUNTED = ("memory", "energy", "synops", "sparsity", "flops")
"""The compared metrics that are deterministic counts."""
GATE_OF = {"top-1": "accuracy", "time": "time", **{name: name for name in COUNTED}}


def _verdict(changes: list[Change], gates: set[str]) -> tuple[str, bool]:
    worse = [c.metric for c in changes if c.verdict == "worse"]
    better = [c.metric for c in changes if c.verdict == "better"]
    gating = [m for m in worse if GATE_OF[m] in gates]
    parts = []
    if gating:
        parts.append("REGRESSED " + ",".join(gating))
    if len(gating) < len(worse):
        parts.append("worse " + ",".join(m for m in worse if m not in gating))
    if better:
        parts.append("better " + ",".join(better))
    if not parts:
        parts.append("same" if any(c.verdict == "same" for c in changes) else "n/a")
    return "; ".join(parts), bool(gating)


# --------------------------------------------------------------------------------------------
# Output

KEY_OF = {"top-1": "test_top1", "time": "time_per_iter_s", "memory": "activation_bytes",
          "energy": "energy_uj", "synops": "synops", "sparsity": "activation_sparsity",
          "flops": "flops_per_iter"}
"""Each compared metric's key in the records (and in :data:`~benches.schema.METRICS`)."""
DIGITS = {"top-1": 2, "time": 2, "memory": 3, "energy": 4, "synops": 2, "sparsity": 2,
          "flops": 4}
"""Decimals shown: the times to 0.01 ms, one more than the leaderboards', for small deltas."""
UNIT = {name: (METRICS[key].unit, "pp" if METRICS[key].unit == "%" else METRICS[key].unit)
        for name, key in KEY_OF.items()}
"""Unit of a value and of a difference, in display units (top-1 in %, its Δ in pp)."""


def _fmt(metric: str, value: float | None, signed: bool = False) -> str:
    scale = METRICS[KEY_OF[metric]].scale
    return number(None if value is None else value * scale, DIGITS[metric], signed)


def _delta_cell(change: Change) -> str:
    if change.delta is None:
        return "–"
    return f"{_fmt(change.metric, change.delta, True)} ±{_fmt(change.metric, change.threshold)}"


HEADERS = ["cell", "top-1 A", "B", "Δ pp ±thr", "ms/it A", "B", "Δ ms ±thr", "act MiB A", "B",
           "Δ MiB ±tol", "µJ A", "B", "Δ µJ ±tol", "GFLOP A", "B", "Δ ±tol", "verdict"]
"""Top-1 in %, time per iteration in ms, activation memory in MiB, inference energy per
sample in µJ, training GFLOP per iteration; Δ = B − A."""


def _parse_gates(values: list[str]) -> set[str]:
    names = {v.strip().lower() for value in values for v in value.split(",") if v.strip()}
    unknown = sorted(names - set(GATES) - {"none"})
    if unknown:
        raise UserError(f"--fail-on: unknown metric(s) {', '.join(unknown)}; "
                        f"choose from {', '.join(GATES)} or none")
    return names - {"none"}


@dataclass
class Outcome:
    """What comparing two folders found, before it is written out."""

    keys: list[str]  # cells ok in both
    rows: list[tuple[bool, str, list[str]]] = field(default_factory=list)
    regressions: list[tuple[str, str, list[Change]]] = field(default_factory=list)
    improved: int = 0
    ungated: int = 0
    not_compared: list[list[str]] = field(default_factory=list)
    status_failures: list[tuple[str, str, str]] = field(default_factory=list)


def compare(a_path: str, b_path: str, rules: Rules | None = None,
            gates: set[str] | None = None, changed_only: bool = False,
            fmt: str = "github") -> tuple[str, int]:
    """The report text and the exit status (1 if a cell regressed in a gated metric)."""
    rules = rules or Rules()
    gates = set(DEFAULT_GATES) if gates is None else gates
    a, b = read_folder(a_path), read_folder(b_path)
    outcome = Outcome(sorted(set(a.ok) & set(b.ok)))
    _compare_ok(outcome, a, b, rules, gates, changed_only)
    _list_not_compared(outcome, a, b, gates)
    parts = _report(outcome, a, b, rules, gates, fmt)
    if not outcome.keys:
        print("\n\n".join(parts))
        raise UserError(f"nothing to compare: no cell is ok in both {a_path} and {b_path}")
    status = 1 if outcome.regressions or outcome.status_failures else 0
    return "\n\n".join(parts), status


def _compare_ok(outcome: Outcome, a: Folder, b: Folder, rules: Rules, gates: set[str],
                changed_only: bool) -> None:
    """The rows and regressions of the cells ok in both folders."""
    labels = _unique_labels({k: label(a.cells[k], k) for k in outcome.keys})
    tests = config_tests(a, b)
    for key in outcome.keys:
        changes = compare_cell(key, a, b, rules, tests)
        verdict, regressed = _verdict(changes, gates)
        outcome.improved += any(c.verdict == "better" for c in changes)
        outcome.ungated += not regressed and any(c.verdict == "worse" for c in changes)
        if regressed:
            worse = [c for c in changes if c.verdict == "worse" and GATE_OF[c.metric] in gates]
            outcome.regressions.append((labels[key], key, worse))
        if changed_only and verdict in ("same", "n/a"):
            continue
        row = [labels[key]]
        for change in changes:
            row += [_fmt(change.metric, change.a), _fmt(change.metric, change.b),
                    _delta_cell(change)]
        outcome.rows.append((regressed, labels[key], [*row, verdict]))
    outcome.rows.sort(key=lambda r: (not r[0], r[1]))


def _list_not_compared(outcome: Outcome, a: Folder, b: Folder, gates: set[str]) -> None:
    """The cells not ok in both, and those ok in A but broken in B (a status regression)."""
    for key in sorted((set(a.state) | set(b.state)) - set(outcome.keys)):
        sa, sb = a.state.get(key, "–"), b.state.get(key, "–")
        name = label(a.cells.get(key) or b.cells.get(key), key)
        outcome.not_compared.append([name, key, sa, sb])
        if "status" in gates and sa == "ok" and sb in BROKEN:
            outcome.status_failures.append((name, key, sb))
    outcome.not_compared.sort(key=lambda r: r[0])


def _report(o: Outcome, a: Folder, b: Folder, rules: Rules, gates: set[str],
            fmt: str) -> list[str]:
    """The report's sections: summary, compared cells, environments, regressions, the rest."""
    from tabulate import tabulate

    gate_text = ",".join(g for g in GATES if g in gates) or "none"
    parts = [
        f"A: {a.path} ({a.records} records)   B: {b.path} ({b.records} records)\n"
        f"{len(o.keys)} compared, {len(o.regressions)} regressed, "
        + (f"{o.ungated} worse in metrics not gated, " if o.ungated else "")
        + f"{o.improved} improved, {len(o.not_compared)} not compared"
        + (f" ({len(o.status_failures)} ok in A but not in B)" if o.status_failures else "")
        + f"; fail on: {gate_text}\n"
        f"thresholds: top-1 max({rules.sigmas:g}·seed std, {rules.acc_floor_pp:g} pp); "
        f"time max({rules.iqrs:g}·IQR, {rules.time_floor_pct:g}%); "
        f"activation memory, energy, FLOPs {rules.mem_tolerance_pct:g}%"
    ]
    if o.rows:
        table = tabulate([r[2] for r in o.rows], HEADERS, tablefmt=fmt, disable_numparse=True)
        parts.append(f"## Compared\n{table}")
    elif o.keys:
        parts.append("## Compared\nno cell changed past its threshold")
    envs = _env_note(a, b, o.keys)
    if envs:
        parts.append(envs)
    if o.regressions or o.status_failures:
        parts.append("## Regressions\n" + "\n".join(_regression_lines(o)))
    if o.not_compared:
        table = tabulate(o.not_compared, ["cell", "key", "A", "B"], tablefmt=fmt,
                         disable_numparse=True)
        parts.append(f"## Not compared\n{table}")
    return parts


def _regression_lines(o: Outcome) -> list[str]:
    lines = []
    for name, key, worse in o.regressions:
        what = "; ".join(
            f"{c.metric} {_fmt(c.metric, c.a)} → {_fmt(c.metric, c.b)} {UNIT[c.metric][0]} "
            f"(Δ {_fmt(c.metric, c.delta, True)} {UNIT[c.metric][1]}, "
            f"threshold {_fmt(c.metric, c.threshold)} {UNIT[c.metric][1]})"
            for c in worse)
        lines.append(f"- {name} [{key}]: {what}")
    return lines + [f"- {name} [{key}]: ok in A, {status} in B"
                    for name, key, status in o.status_failures]


def _unique_labels(labels: dict[str, str]) -> dict[str, str]:
    counts: dict[str, int] = {}
    for text in labels.values():
        counts[text] = counts.get(text, 0) + 1
    return {k: v if counts[v] == 1 else f"{v} #{k[:6]}" for k, v in labels.items()}


def _env_note(a: Folder, b: Folder, keys: list[str]) -> str:
    """A warning when A and B were measured on different machines or software."""
    from benches.report.frames import env_id

    differ = sum(1 for k in keys
                 if a.ok[k]["env"] and b.ok[k]["env"]
                 and env_id(a.ok[k]["env"]) != env_id(b.ok[k]["env"]))
    if not differ:
        return ""
    return (f"note: {differ} of {len(keys)} compared cells were measured on a different machine "
            "or software stack in A and B; their times may not be comparable")
