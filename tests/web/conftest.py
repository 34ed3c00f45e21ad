"""One headless Chromium for the session: Debian's `chromium` package through Playwright, never
a downloaded browser. Missing, the browser tests fail in CI and skip (saying why) elsewhere."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

from tests.fresh_database import IN_CI

CHROMIUM = os.environ.get("NICHANDLE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
# Screenshots of the main pages land here (README, "Web UI"); docs/screenshots/ holds the
# copies the README shows.
SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not Path(CHROMIUM).exists():  # noqa: ASYNC240 - once a session, before any test
        message = f"no Chromium at {CHROMIUM}: `apt-get install chromium` (make test does, as root)"
        if IN_CI:
            pytest.fail(f"{message} (CI=true: the browser tests must run)")
        pytest.skip(message)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        yield launched
        await launched.close()
