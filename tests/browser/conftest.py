"""One demo hub and one headless Chromium for the browser tests, and the checks every page they
visit goes through (see audit.py). Chromium comes from Debian (`apt-get install chromium`) and
axe-core from npm (`npm ci` here); .ci/run installs both. Without them the tests skip, or fail
under CI=true."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from tests.browser.audit import AXE_SCRIPT, SCREENSHOTS, Audit
from tests.support.demo import running_demo_hub, seeded_demo_hub_id
from tests.support.services import unavailable

CHROMIUM = Path(os.environ.get("ADOPTE_CHROMIUM", "/usr/bin/chromium"))
# Without the background-networking flags Chromium keeps calling Google's hosts, which a closed
# network refuses; --no-sandbox because CI runs as root.
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2,
         "locale": "fr-FR", "timezone_id": "Europe/Paris"}


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not os.access(CHROMIUM, os.X_OK):
        unavailable(f"Chromium is not installed at {CHROMIUM}: apt-get install chromium "
                    "(or set ADOPTE_CHROMIUM)")
    return CHROMIUM


@pytest.fixture(scope="session")
def axe_script() -> Path:
    if not AXE_SCRIPT.is_file():
        unavailable(f"axe-core is not installed ({AXE_SCRIPT}): run `npm ci` in tests/browser")
    return AXE_SCRIPT


@pytest.fixture(scope="package")
def demo_url(chromium, axe_script, tmp_path_factory) -> Iterator[str]:
    with running_demo_hub(tmp_path_factory.mktemp("browser-hub")) as url:
        yield url


@pytest_asyncio.fixture(scope="package", loop_scope="package")
async def demo_hub_id(demo_url) -> str:
    async with httpx.AsyncClient(base_url=demo_url, timeout=15) as api:
        return await seeded_demo_hub_id(api)


@pytest_asyncio.fixture(scope="package", loop_scope="package")
async def browser(chromium) -> AsyncIterator:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(chromium), headless=True,
                                                    args=CHROMIUM_FLAGS)
        yield launched
        await launched.close()


@pytest.fixture
def audit(request, browser, demo_url, axe_script) -> Audit:
    return Audit(request.node.name.removeprefix("test_"), browser, demo_url, axe_script, PHONE)


def pytest_terminal_summary(terminalreporter) -> None:
    if Audit.screenshots_taken:
        terminalreporter.write_line(f"browser screenshots: {SCREENSHOTS}")
