"""The real-browser harness (tests/browser.py) on small pages written for each test."""

from __future__ import annotations

import sys

import pytest
from browser import (  # noqa: F401  (browser_fixture provides the fixture `browser`)
    browser_fixture,
    chromium_path,
    click_and_read,
    column_texts,
    horizontal_overflow,
    launch,
    open_page,
    screenshot,
    unavailable_reason,
)


def _write(tmp_path, body: str, name: str = "page.html"):
    path = tmp_path / name
    path.write_text(f"<!doctype html><html><head><meta charset='utf-8'>"
                    f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
                    f"</head><body>{body}</body></html>", encoding="utf-8")
    return path


def test_clean_page_has_no_problems(browser, tmp_path):
    with open_page(browser, _write(tmp_path, "<p>hello</p>"), width=1280) as page:
        assert page.problems() == []
        assert page.inner_text("p") == "hello"


def test_console_error_and_uncaught_exception_are_recorded(browser, tmp_path):
    body = "<script>console.error('x'); console.log('fine')</script>" \
           "<script>throw new Error('boom')</script>"
    with open_page(browser, _write(tmp_path, body), width=1280) as page:
        assert page.console_errors == ["x"]
        assert len(page.page_errors) == 1 and "boom" in page.page_errors[0]


def test_external_request_is_recorded_and_blocked(browser, tmp_path):
    body = "<img id='i' src='https://example.com/x.png'>"
    with open_page(browser, _write(tmp_path, body), width=1280) as page:
        assert page.external_requests == ["https://example.com/x.png"]
        # Aborted, not fetched: the image never loaded, and its "Failed to load resource"
        # console line is not counted a second time.
        assert page.evaluate("document.getElementById('i').naturalWidth") == 0
        assert page.console_errors == []
        assert page.failed_requests == []


def test_missing_local_file_is_a_failed_request(browser, tmp_path):
    with open_page(browser, _write(tmp_path, "<img src='missing.png'>"), width=1280) as page:
        assert page.external_requests == []
        assert len(page.failed_requests) == 1 and "missing.png" in page.failed_requests[0]


def test_horizontal_overflow(browser, tmp_path):
    wide = _write(tmp_path, "<div style='width:2000px;height:10px'></div>", "wide.html")
    with open_page(browser, wide, width=390) as page:
        assert horizontal_overflow(page) > 1000
    cells = "".join(f"<td>column {i} with some text</td>" for i in range(30))
    boxed = _write(tmp_path, f"<div style='overflow-x:auto'><table><tr>{cells}</tr></table>"
                             f"</div>", "boxed.html")
    with open_page(browser, boxed, width=390) as page:
        assert page.evaluate("document.querySelector('table').scrollWidth") > 390
        assert horizontal_overflow(page) == 0


SORTABLE = """
<table id='t'><thead><tr><th>name</th><th>score</th></tr></thead>
<tbody><tr><td>b</td><td>2</td></tr><tr><td>c</td><td>10</td></tr>
<tr><td>a</td><td>1</td></tr></tbody></table>
<script>
document.querySelectorAll('#t th').forEach((th, i) => th.addEventListener('click', () => {
  const body = document.querySelector('#t tbody');
  const key = r => { const t = r.cells[i].textContent; return isNaN(t) ? t : Number(t); };
  Array.from(body.rows).sort((x, y) => key(x) < key(y) ? -1 : key(x) > key(y) ? 1 : 0)
       .forEach(r => body.appendChild(r));
}));
</script>
"""


def test_click_sorts_a_table(browser, tmp_path):
    with open_page(browser, _write(tmp_path, SORTABLE), width=800) as page:
        assert column_texts(page, "#t", 0) == ["b", "c", "a"]
        page.click("th")
        assert column_texts(page, "#t", 0) == ["a", "b", "c"]
        assert click_and_read(page, "#t th:nth-child(2)", "#t", 1) == ["1", "2", "10"]
        assert page.problems() == []


def test_screenshot_writes_png(browser, tmp_path, monkeypatch):
    monkeypatch.setenv("BENCHES_TEST_ARTIFACTS", str(tmp_path / "artifacts"))
    with open_page(browser, _write(tmp_path, "<h1>shot</h1>"), width=390) as page:
        path = screenshot(page, "harness/shot 1")
    assert path.parent == tmp_path / "artifacts" and path.name == "harness_shot_1.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_missing_chromium_skips_with_reason(monkeypatch, tmp_path):
    monkeypatch.setenv("BENCHES_CHROMIUM", str(tmp_path / "no-such-chromium"))
    assert chromium_path() is None
    assert "BENCHES_CHROMIUM" in unavailable_reason()
    with pytest.raises(pytest.skip.Exception, match="no browser: BENCHES_CHROMIUM="):
        with launch():
            pytest.fail("launch() must skip without a browser")


def test_missing_playwright_skips_with_reason(monkeypatch):
    if chromium_path() is None:
        pytest.skip("no browser: the playwright check comes after the browser check")
    monkeypatch.setitem(sys.modules, "playwright.sync_api", None)  # import fails
    assert unavailable_reason().startswith("no playwright")
    with pytest.raises(pytest.skip.Exception, match="no playwright"):
        with launch():
            pytest.fail("launch() must skip without playwright")
