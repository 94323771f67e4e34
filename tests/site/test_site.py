"""The static site: pages, leaderboard statistics, plots, downloads, escaping, reproduction."""

from __future__ import annotations

import os
import re

import pandas as pd
import pytest
from scipy import stats
from site_records import write_site_records

from benches.commands import main
from benches.schema import METRICS, accuracy_digits
from benches.site import render_site
from benches.site.leaderboard import Value, interval, mark_best
from benches.site.plots import pareto_front


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("site")
    write_site_records(root / "results")
    render_site(str(root / "results"), str(root / "site"), markdown_dir=str(root / "md"))
    return root


def page(site, name: str) -> str:
    return (site / "site" / name).read_text()


def test_interval_is_student_t_over_seeds():
    lo, hi = interval(92.0, 2.0, 3)
    assert hi - 92.0 == pytest.approx(stats.t.ppf(0.975, 2) * 2.0 / 3**0.5)
    assert hi - 92.0 == pytest.approx(4.9683, abs=1e-4)
    assert lo == pytest.approx(2 * 92.0 - hi)
    assert interval(92.0, None, 1) is None


def test_best_and_ties_follow_the_direction_and_the_intervals():
    a, b, c = Value("", 10.0, lo=9.0, hi=11.0), Value("", 10.5, lo=10.4, hi=10.6), \
        Value("", 13.0, lo=12.5, hi=13.5)
    mark_best([a, b, c], "lower")
    assert (a.mark, b.mark, c.mark) == ("best", "tie", "")
    mark_best([a, b, c], "higher")
    assert (a.mark, b.mark, c.mark) == ("", "", "best")
    mark_best([a, b, c], None)
    assert (a.mark, b.mark, c.mark) == ("", "", "")


def test_pareto_front():
    # (cost, accuracy): the third is dominated by the first, the last is the cheapest
    points = [(1.0, 90.0), (2.0, 95.0), (3.0, 89.0), (0.5, 80.0), (4.0, 95.0)]
    assert sorted(pareto_front(points)) == [0, 1, 3]


def test_accuracy_precision_follows_the_test_set():
    assert accuracy_digits(450) == 1  # one image = 0.22 pp
    assert accuracy_digits(10_000) == 2
    assert accuracy_digits(50) == 0  # 2 pp per image
    assert accuracy_digits(None) == METRICS["test_top1"].digits


def test_pages_and_navigation(site):
    names = {p.name for p in (site / "site").glob("*.html")}
    assert {"index.html", "board-digits-convnet-digits.html", "board-cifar10-vgg11.html",
            "reproduction.html", "methods.html", "environment.html"} <= names
    for name in names:
        html = page(site, name)
        for other in ("index.html", "reproduction.html", "methods.html", "environment.html"):
            assert f'href="{other}"' in html
        assert 'class="toc"' in html


def test_leaderboard_values_marks_and_links(site):
    html = page(site, "board-digits-convnet-digits.html")
    # bptt T=2 over 3 seeds: mean 92.0, std 2.0, one decimal for 450 test images
    assert "92.0<span class=\"sd\">± 2.0</span>" in html
    assert "80.0" in html and "reset=hard" in html
    # the best top-1 is bptt or ottt_a (92.0); rate_m (80.0 ± 1.0) is not tied with it
    row = re.search(r'data-method="rate_m"[^>]*>(.*?)</tr>', html, re.S).group(1)
    top1 = re.search(r'<td class="num[^"]*" data-v="80.0[^"]*"[^>]*>', row).group(0)
    assert "best" not in top1 and "tie" not in top1
    assert re.search(r'class="num best" data-v="92\.0', html)
    # each row links to its records, and the records are there
    keys = re.findall(r'href="records/([0-9a-f]+)\.json"', html)
    assert len(keys) >= 19
    assert all((site / "site" / "records" / f"{k}.json").exists() for k in keys)
    # the interval rule is stated, T groups are separated, filters are declared
    assert "Student t" in html and 'class="tgroup"' in html
    assert 'data-filters="timesteps,library,track,method"' in html


def test_only_present_metrics_and_no_empty_tooltips(site):
    for name in ("index.html", "board-digits-convnet-digits.html"):
        html = page(site, name)
        assert 'title=""' not in html
        assert METRICS["gpu_busy_fraction"].title not in html  # in no record
        assert METRICS["activation_bytes"].title in html
    assert METRICS["grad_cosine"].title not in page(site, "board-digits-convnet-digits.html")
    legend = page(site, "index.html").split('id="metrics"')[1]
    assert "Firing rate</dt>" in legend or "Firing rate (neither" in legend


def test_plots_are_inline_svg_with_their_numbers(site):
    html = page(site, "board-digits-convnet-digits.html")
    assert html.count("<svg") >= 4  # memory and time trade-offs, scaling, curves
    assert "Pareto front" in html and "The numbers in this plot" in html
    assert "b=1.00 (claims O(L·T))" in html  # bptt's memory doubles from T=2 to 4
    assert "b=0.00 (claims O(L))" in html  # ottt_a's and rate_m's memory stays flat
    assert "grows about linearly with T for bptt" in html
    assert "$\\mathdefault" not in html  # plain tick labels


def test_contended_timings_are_flagged(tmp_path):
    from site_records import train_record

    from benches.records import write_record

    results = tmp_path / "r"
    write_record(train_record("bptt", 0, 0.9, 2, 0.01, 2**20, load_average=6.0), results)
    write_record(train_record("ottt_a", 0, 0.9, 2, 0.01, 2**20, load_average=2.0), results)
    html = render_site(str(results), str(tmp_path / "s")).parent / \
        "board-digits-convnet-digits.html"
    text = html.read_text()
    assert text.count('class="contended"') == 1  # 6.0 > 1.5 × 2 CPUs; 2.0 is not
    assert "seed 0: load 6.0 on 2 CPUs" in text


def test_efficiency_and_alignment_pages(site):
    eff = page(site, "efficiency.html")
    assert eff.count("<svg") == 1
    assert "bptt: b=1.00 (claims O(L·T))" in eff and "rate_m: b=0.00 (claims O(L))" in eff
    assert "O(L·T) ok" in eff and "O(L) ok" in eff  # the verdict table
    align = page(site, "alignment.html")
    assert align.count("<svg") == 2  # cosine and norm ratio vs T
    assert "T=4: 0.2250" in align  # ottt_a's cosine at T=4, one decimal more than the schema


def test_no_request_can_leave_the_folder(site):
    for path in (site / "site").glob("*.html"):
        html = path.read_text()
        assert not re.search(r'(src|href)="(https?:)?//[^"]*\.(css|js|png|svg|woff2?)', html)
        assert "<link" not in html and "@import" not in html
        assert not re.search(r"url\((https?:)?//", html)
        assert not re.search(r'<script[^>]+src=', html)


def test_markup_in_a_record_renders_as_text_everywhere(site):
    for path in [*(site / "site").glob("*.html"), site / "md" / "summary.md"]:
        text = path.read_text()
        assert "<script>alert" not in text, path.name
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page(site, "board-digits-convnet-digits.html")
    assert "&amp; more" in page(site, "environment.html")


def test_reproduction_matches_and_lists_the_rest(site):
    html = page(site, "reproduction.html")
    measured = html.split('id="measured"')[1].split('id="unmeasured"')[0]
    assert "94.35" in measured and "-1.00" in measured  # 93.35 measured
    assert "https://openreview.net/forum?id=CIj1CVbkpr" in measured
    rest = html.split('id="unmeasured"')[1]
    assert "95.64" in rest and "--matrix paper --datasets cifar10" in rest


def test_methods_and_environment_pages(site):
    methods = page(site, "methods.html")
    assert 'id="rate_m"' in methods or 'id="rate-m"' in methods
    assert "https://arxiv.org/abs/2410.11488" in methods
    assert "O(L·T)" in methods
    # the paper track: where each method published, and the setup a record followed, sourced
    assert "cifar10 (resnet18 T=2, resnet18 T=4, resnet18 T=6)" in methods  # rate_m
    assert "os on cifar10: the published setup" in methods
    assert "yamls/CIFAR10.yaml weight_decay: 0.0005" in methods
    env = page(site, "environment.html")
    assert "python -m benches run --matrix m" in env
    assert "python -m benches site --results" in env
    assert "test-cpu" in env and "0123456789" in env


def test_downloads(site):
    board = pd.read_csv(site / "site" / "data" / "board-digits-convnet-digits.csv")
    bptt = board[(board["method"] == "bptt") & (board["timesteps"] == 2)
                 & board["variant"].isna()].iloc[0]
    assert bptt["Top-1 (%) mean"] == pytest.approx(92.0)
    assert bptt["Top-1 (%) std"] == pytest.approx(2.0)
    assert len(bptt["records"].split()) == 3
    overview = pd.read_csv(site / "site" / "data" / "overview.csv")
    assert set(overview["dataset"]) == {"digits", "cifar10"}
    everything = pd.read_csv(site / "site" / "data" / "records.csv")
    assert set(everything["mode"]) == {"train", "efficiency", "alignment"}
    assert len(everything) == len(list((site / "results").glob("*.json")))


def test_markdown_summary(site):
    text = (site / "md" / "summary.md").read_text()
    assert "| Method" in text and "|---" in text.replace(":", "-").replace("|-", "|-")
    assert re.search(r"\*\*92\.0 ± [12]\.0\*\*", text)  # the best mean is bold
    assert re.search(r"\|\s+80\.0 ± 1\.0 \|", text)  # rate_m: neither bold nor tied
    svgs = list((site / "md").glob("*.svg"))
    assert svgs and all(f"]({p.name})" in text for p in svgs)
    groups = text.split("### digits · convnet_digits: which differences are real")[1]
    assert re.search(r"\| rate_m +\| +2 \| b +\| +80\.0 ± 1\.0 \|", groups)
    assert "Holm-corrected, α = 0.05" in groups


def test_site_command(tmp_path, capsys):
    write_site_records(tmp_path / "r")
    assert main(["site", "--results", str(tmp_path / "r"), "--out", str(tmp_path / "s"),
                 "--markdown", str(tmp_path / "md")]) == 0
    assert (tmp_path / "s" / "index.html").exists() and (tmp_path / "md" / "summary.md").exists()
    mask = os.umask(0)
    os.umask(mask)
    for path in (tmp_path / "s" / "index.html", tmp_path / "s" / "data" / "overview.csv",
                 next((tmp_path / "r").glob("*.json"))):  # servable: not mkstemp's 0600
        assert path.stat().st_mode & 0o777 == 0o666 & ~mask
    assert main(["site", "--results", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_significance_groups_on_the_board(site):
    """bptt and ottt_a (per-seed differences −1, +1, 0 pp) share a group; rate_m, 10–13 pp
    below both at every seed, is in another (paired t, Holm over the three pairs)."""
    import csv

    rows = {r["method"]: r for r in csv.DictReader(
        (site / "site" / "data" / "board-digits-convnet-digits.csv").open())
        if r["timesteps"] == "2" and r["variant"] in ("", "nan")}
    assert rows["bptt"]["group"] == rows["ottt_a"]["group"] == "a"
    assert rows["rate_m"]["group"] == "b"
    html = page(site, "board-digits-convnet-digits.html")
    assert "Holm-corrected over the pairs, α = 0.05" in html
    assert "T = 2, torch, common:" in html and "3 seeds each" in html
    assert "Every pair tested" in html and "<td class=\"text\">rate_m</td>" in html
