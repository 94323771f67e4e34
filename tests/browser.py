"""Real-browser checks for static HTML pages: the site is opened in headless Chromium.

Playwright (the pip package) drives the system's Chromium (Debian's ``chromium``) through
``executable_path``; Playwright's own browser download is never used. Without Chromium or
Playwright the tests that use :func:`launch` or the ``browser`` fixture (imported as
``browser_fixture``) skip with the reason.

Use from a test module (the tests directory is on ``sys.path``, as for ``helpers``)::

    from browser import browser_fixture, horizontal_overflow, open_page  # noqa: F401

    def test_page(browser, tmp_path):
        with open_page(browser, tmp_path / "index.html", width=390) as page:
            assert page.problems() == []
            assert horizontal_overflow(page) == 0

Every request whose URL is neither ``file:`` nor ``data:`` is recorded in
``page.external_requests`` and aborted, so a test never touches the network.

Environment: ``BENCHES_CHROMIUM`` names the browser binary (it wins over ``PATH``; a path that
is not an executable file means "no browser"); ``BENCHES_TEST_ARTIFACTS`` names the folder for
screenshots (default ``<repo>/test-artifacts/``, git-ignored).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")
_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Flags for containers and CI runners: a small /dev/shm, no GPU, no first-run UI.
_ARGS = ["--disable-dev-shm-usage", "--disable-gpu", "--no-first-run",
         "--no-default-browser-check", "--disable-extensions"]


def chromium_path() -> str | None:
    """The Chromium binary: ``$BENCHES_CHROMIUM`` if set (None when it is not executable),
    else the first of chromium / chromium-browser / google-chrome on ``PATH``."""
    override = os.environ.get("BENCHES_CHROMIUM")
    if override:
        return override if os.path.isfile(override) and os.access(override, os.X_OK) else None
    for name in _CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def unavailable_reason() -> str | None:
    """Why browser tests cannot run here, or None when they can (launching is not tried)."""
    exe = chromium_path()
    if exe is None:
        override = os.environ.get("BENCHES_CHROMIUM")
        if override:
            return f"no browser: BENCHES_CHROMIUM={override} is not an executable file"
        return ("no browser: none of chromium / chromium-browser / google-chrome on PATH "
                "(apt-get install chromium, or set BENCHES_CHROMIUM)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "no playwright: pip install -e '.[test]'"
    return None


@contextmanager
def launch() -> Iterator[Any]:
    """A headless Chromium (a Playwright ``Browser``); skips the calling test when there is
    no Chromium, no Playwright, or Chromium does not start."""
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import Error, sync_playwright

    exe = chromium_path()
    with sync_playwright() as pw:
        try:
            # Playwright passes --no-sandbox itself (chromium_sandbox defaults to False),
            # which Chromium needs when it runs as root in a container.
            browser = pw.chromium.launch(executable_path=exe, headless=True, args=_ARGS)
        except Error as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            pytest.skip(f"no browser: {exe} did not start: {first}")
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module", name="browser")
def browser_fixture():
    """Fixture ``browser``: one headless Chromium per test module (see :func:`launch`).
    Import ``browser_fixture`` into a test module to use it."""
    with launch() as b:
        yield b


@dataclass
class PageRun:
    """An opened page and what happened while it was open.

    Attribute access falls through to the Playwright ``Page``: ``run.click("th")`` works.
    """

    page: Any
    url: str
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)

    def __getattr__(self, name: str) -> Any:
        # Only called for names the dataclass lacks.
        if name == "page":
            raise AttributeError(name)
        return getattr(self.page, name)

    def problems(self) -> list[str]:
        """Every recorded error and every request that left file:, one line each."""
        return ([f"console error: {m}" for m in self.console_errors]
                + [f"page error: {m}" for m in self.page_errors]
                + [f"external request: {u}" for u in self.external_requests]
                + [f"failed request: {u}" for u in self.failed_requests])

    def close(self) -> None:
        self.page.context.close()

    def __enter__(self) -> PageRun:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _is_local(url: str) -> bool:
    return url.startswith(LOCAL_SCHEMES)


def open_page(browser, path: str | os.PathLike, width: int, height: int = 900) -> PageRun:
    """Open the local file ``path`` in a fresh browser context of ``width`` x ``height``.

    Records console messages of type error, uncaught exceptions, requests to anything but
    ``file:``/``data:`` (which are aborted) and local requests that failed (missing files).
    The load event has fired and a frame has been laid out when this returns. Close the page
    (``with open_page(...) as page:`` or ``page.close()``); the browser closes it otherwise.
    """
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    run = PageRun(page=page, url=Path(path).resolve().as_uri())
    blocked: set[str] = set()

    def route(r) -> None:
        url = r.request.url
        if _is_local(url):
            r.continue_()
        else:
            blocked.add(url)
            run.external_requests.append(url)
            r.abort("blockedbyclient")

    def on_console(msg) -> None:
        if msg.type != "error":
            return
        # An aborted external request also logs "Failed to load resource"; it is already
        # in external_requests, so it is not counted twice.
        if msg.text.startswith("Failed to load resource") and \
                (msg.location or {}).get("url") in blocked:
            return
        run.console_errors.append(msg.text)

    def on_failed(request) -> None:
        if request.url not in blocked:
            run.failed_requests.append(f"{request.url} ({request.failure})")

    context.route("**/*", route)
    page.on("console", on_console)
    page.on("pageerror", lambda exc: run.page_errors.append(str(exc)))
    page.on("requestfailed", on_failed)
    try:
        page.goto(run.url, wait_until="load")
        settle(page)
    except BaseException:
        context.close()
        raise
    return run


def _page(page) -> Any:
    return page.page if isinstance(page, PageRun) else page


def settle(page) -> None:
    """Wait two animation frames: layout and pending event handlers have run."""
    _page(page).evaluate(
        "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def horizontal_overflow(page) -> int:
    """How many CSS pixels the page is wider than the viewport (0 when it fits): the larger
    of ``scrollWidth - clientWidth`` of the root element and of ``<body>``."""
    return int(_page(page).evaluate("""() => {
        const over = el => el ? Math.max(0, el.scrollWidth - el.clientWidth) : 0;
        return Math.max(over(document.documentElement), over(document.body));
    }"""))


def column_texts(page, table_selector: str, column_index: int) -> list[str]:
    """The trimmed text of cell ``column_index`` (0-based) of each body row of the first table
    matching ``table_selector`` (rows of ``<thead>`` excluded; rows too short give "")."""
    return _page(page).eval_on_selector(table_selector, """(table, i) => {
        const rows = table.tBodies.length
            ? Array.from(table.tBodies).flatMap(b => Array.from(b.rows))
            : Array.from(table.rows).filter(r => r.parentElement.tagName !== 'THEAD');
        return rows.map(r => r.cells[i] ? r.cells[i].innerText.trim() : '');
    }""", column_index)


def click_and_read(page, click_selector: str, table_selector: str,
                   column_index: int) -> list[str]:
    """Click the element ``click_selector`` (e.g. a header cell), let the page settle and
    return :func:`column_texts` of the table."""
    p = _page(page)
    p.click(click_selector)
    settle(p)
    return column_texts(p, table_selector, column_index)


def artifacts_dir() -> Path:
    """``$BENCHES_TEST_ARTIFACTS`` or ``<repo>/test-artifacts``, created if missing."""
    folder = Path(os.environ.get("BENCHES_TEST_ARTIFACTS") or REPO / "test-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def screenshot(page, name: str) -> Path:
    """Save a full-page PNG as ``<artifacts>/<name>.png`` and return its path."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "page"
    if stem.lower().endswith(".png"):
        stem = stem[:-4]
    path = artifacts_dir() / f"{stem}.png"
    _page(page).screenshot(path=str(path), full_page=True)
    return path
