"""Headless Chromium for the page tests: the launch, a phone's context, the requests it made.

Debian's chromium is driven through Playwright's ``executable_path``; the wheel's own browser
download is never used. ``make browser`` installs chromium; without it (and no way to install it)
the tests that ask for the ``browser`` fixture skip and say why. Screenshots land in
test-artifacts/.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Request, Route, ViewportSize, sync_playwright

from tests.integration.api_support import serving_demo

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE: ViewportSize = {"width": 390, "height": 844}


def chromium() -> str:
    """/usr/bin/chromium, installed from Debian if missing and possible; else skip."""
    if not os.path.exists(CHROMIUM) and shutil.which("apt-get") and os.geteuid() == 0:
        for command in (
            ["apt-get", "update", "-qq"],
            ["apt-get", "install", "-y", "-qq", "chromium"],
        ):
            subprocess.run(command, check=False, capture_output=True, timeout=900)
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is absent and could not be installed (run `make browser` as root)")
    return CHROMIUM


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium, one per test module."""
    executable = chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def demo_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real service on the demo ledger, on a free local port: its host:port."""
    with serving_demo(tmp_path_factory.mktemp("demo")) as served:
        yield served


def phone(browser: Browser, host: str, requests: list[str], locale: str) -> Page:
    """A page in a phone's context: every request it makes is appended to ``requests``, and any
    to a host other than ``host`` is refused."""
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True,
                                  has_touch=True, locale=locale)  # fmt: skip
    page = context.new_page()

    def record(request: Request) -> None:
        requests.append(request.url)

    def refuse_other_hosts(route: Route) -> None:
        if urlsplit(route.request.url).netloc == host:
            route.continue_()
        else:
            route.abort()

    page.on("request", record)
    context.route("**/*", refuse_other_hosts)
    return page


def other_hosts(requests: list[str], host: str) -> list[str]:
    """The requests to any host but ``host`` (``data:`` URLs fetch nothing and are left out)."""
    return [u for u in requests if urlsplit(u).scheme != "data" and urlsplit(u).netloc != host]
