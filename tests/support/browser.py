"""A real browser for the web tests: Debian's chromium, headless, driven by selenium + chromedriver.

No browser download: selenium is pointed at /usr/bin/chromium and /usr/bin/chromedriver (Debian
packages chromium and chromium-driver, installed by scripts/setup.sh). The flags keep chromium
off the network (this machine's network is closed; see the project's machine notes).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1600",
    "--lang=th-TH",
)


@contextmanager
def chromium(download_dir: str | None = None) -> Iterator[Any]:
    """A headless chromium under selenium, closed afterwards."""
    for tool in (CHROMIUM, CHROMEDRIVER):
        if not shutil.which(tool):
            pytest.fail(f"{tool} is missing: scripts/setup.sh installs chromium and chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="thaisign-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    if download_dir:
        options.add_experimental_option("prefs", {"download.default_directory": download_dir})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
