"""The site in a real browser (headless Chromium): no error, nothing fetched from outside the
folder, no horizontal overflow at phone and desktop widths, sorting and filtering work, plots
are drawn, markup from a record stays text. Screenshots go to the test artifacts."""

from __future__ import annotations

import re

import pytest
from browser import (  # noqa: F401
    browser_fixture,
    column_texts,
    horizontal_overflow,
    open_page,
    screenshot,
)
from site_records import EVIL, write_site_records

from benches.site import render_site

WIDTHS = (390, 1400)
BOARD = "board-digits-convnet-digits.html"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser-site")
    write_site_records(root / "results")
    render_site(str(root / "results"), str(root / "site"))
    return root / "site"


def _means(page, col: int) -> list[float]:
    """The leading number of each cell of column ``col`` (mean of "mean ± std")."""
    out = []
    for text in column_texts(page, "table.board", col):
        match = re.match(r"[0-9.]+", text)
        if match:
            out.append(float(match.group(0)))
    return out


def _column(page, title: str) -> int:
    heads = page.eval_on_selector_all("table.board thead th", "hs => hs.map(h => h.innerText)")
    return next(i for i, h in enumerate(heads) if h.startswith(title))


def test_every_page_is_clean_and_fits(browser, site):
    pages = sorted(p.name for p in site.glob("*.html"))
    assert len(pages) >= 6
    for name in pages:
        for width in WIDTHS:
            with open_page(browser, site / name, width=width) as page:
                assert page.problems() == [], (name, width)
                assert horizontal_overflow(page) == 0, (name, width)
                dialogs = []
                page.on("dialog", lambda d, dialogs=dialogs: (dialogs.append(d), d.dismiss()))
                assert EVIL not in page.evaluate("document.documentElement.innerHTML")
                screenshot(page, f"site-{name[:-5]}-{width}")
                assert dialogs == []


def test_header_click_sorts_the_column(browser, site):
    with open_page(browser, site / BOARD, width=1400) as page:
        col = _column(page, "Top-1")
        page.click(f"table.board thead th:nth-child({col + 1})")
        values = _means(page, col)
        assert values == sorted(values) and values[0] < values[-1]
        page.click(f"table.board thead th:nth-child({col + 1})")
        values = _means(page, col)
        assert values == sorted(values, reverse=True)


def test_filter_hides_rows_and_recomputes_the_marks(browser, site):
    with open_page(browser, site / BOARD, width=1400) as page:
        visible = "() => Array.from(document.querySelectorAll('table.board tbody tr'))" \
                  ".filter(r => !r.hidden).map(r => r.dataset.method)"
        before = page.evaluate(visible)
        page.select_option("select[name=method]", "rate_m")
        after = page.evaluate(visible)
        assert set(after) == {"rate_m"} and len(after) < len(before)
        col = _column(page, "Top-1")
        # rate_m alone: its best top-1 row is now marked best
        marks = page.evaluate(
            f"() => Array.from(document.querySelectorAll('table.board tbody tr'))"
            f".filter(r => !r.hidden).map(r => r.cells[{col}].className)")
        assert any("best" in m for m in marks)


def test_plots_are_drawn(browser, site):
    with open_page(browser, site / BOARD, width=390) as page:
        sizes = page.evaluate(
            "() => Array.from(document.querySelectorAll('figure svg'))"
            ".map(s => s.getBoundingClientRect().width)")
        assert len(sizes) >= 4
        assert all(0 < w <= 390 for w in sizes)  # scaled down to the phone's width


def test_without_script_the_table_is_complete(browser, site):
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1400,
                                                                       "height": 900})
    try:
        page = context.new_page()
        page.goto((site / BOARD).as_uri())
        rows = page.evaluate("() => document.querySelectorAll('table.board tbody tr').length")
        assert rows >= 7
        assert page.evaluate("() => document.querySelectorAll('.filters select').length") == 0
        assert page.evaluate("() => document.querySelectorAll('td.best').length") >= 1
    finally:
        context.close()
