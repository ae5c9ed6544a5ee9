"""A real browser for the tests: Debian's chromium driven by Playwright (no downloaded browser).

``browser`` is one Chromium per test module: Playwright's sync API keeps an event loop running in the main
thread while it is open, which breaks ``asyncio.run`` in every later test, so it must close with its module.
``page`` is a fresh context per test, so cookies never leak between tests. ``offline_page`` has networking
cut (as on a closed city network such as LGWAN): anything that is not loopback fails, and the test can read
``page.blocked`` to see what the page tried to reach.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

CHROMIUM = shutil.which("chromium")
_LOOPBACK_HOSTS = ("127.", "localhost", "[::1]", "::1")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if CHROMIUM is None:
        pytest.skip("needs Debian's chromium (scripts/setup.sh installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM,
                              args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(locale="ja-JP", viewport={"width": 1280, "height": 900})
    pg = ctx.new_page()
    pg.console_errors = []
    pg.on("pageerror", lambda e: pg.console_errors.append(str(e)))
    yield pg
    ctx.close()


@pytest.fixture
def offline_page(browser: Any) -> Iterator[Any]:
    """A page on a network with no internet: only loopback and file:// answer."""
    ctx = browser.new_context(locale="ja-JP", viewport={"width": 1280, "height": 900})
    pg = ctx.new_page()
    pg.blocked = []
    pg.console_errors = []
    pg.on("pageerror", lambda e: pg.console_errors.append(str(e)))

    def route(r: Any) -> None:
        url = r.request.url
        parts = urlsplit(url)
        if parts.scheme in ("file", "data", "blob") or (parts.hostname or "").startswith(_LOOPBACK_HOSTS):
            r.continue_()
        else:
            pg.blocked.append(url)
            r.abort("internetdisconnected")

    ctx.route("**/*", route)
    yield pg
    ctx.close()
