"""Headless Chromium for browser tests: Debian's chromium + chromedriver, driven by Selenium.

Selenium is always given the chromedriver path, so Selenium Manager never tries to download a
browser or driver (there is no network for that on these machines). Where the Debian packages are
missing they are installed with apt-get; when that is impossible the test is skipped, except in CI
(`CI=true`), where it fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from tests.conftest import require_service

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
APT_PACKAGES = ["chromium", "chromium-driver"]
CHROME_FLAGS = [
    "--headless=new",
    "--no-sandbox",  # tests run as root in containers
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,900",
]


def _apt(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(
        ["apt-get", *args], capture_output=True, text=True, env=env, timeout=900, check=False
    )


def _installed() -> bool:
    return CHROMIUM.exists() and CHROMEDRIVER.exists()


def chromium_problem() -> str | None:
    """None when chromium and chromedriver are there (installing them if needed), else why not."""
    if _installed():
        return None
    if shutil.which("apt-get") is None:
        return f"{CHROMIUM} or {CHROMEDRIVER} missing and apt-get is not available"
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        return f"{CHROMIUM} or {CHROMEDRIVER} missing; run: apt-get install -y {' '.join(APT_PACKAGES)}"
    try:
        result = _apt("install", "-y", *APT_PACKAGES)
        if result.returncode != 0:  # most often a stale or empty package list
            _apt("update")
            result = _apt("install", "-y", *APT_PACKAGES)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"apt-get install {' '.join(APT_PACKAGES)} failed: {exc}"
    if result.returncode != 0 or not _installed():
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        return f"apt-get install {' '.join(APT_PACKAGES)} failed: {' | '.join(tail)}"
    return None


def selenium_problem() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError as exc:
        return f"{exc} (install the dev extra: pip install -e '.[dev]')"
    return None


def start_chromium(profile_dir: Path) -> WebDriver:
    """A headless Chromium with a throwaway profile; skips (fails in CI) when unavailable."""
    require_service("selenium", selenium_problem())
    require_service("headless Chromium", chromium_problem())
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile_dir}")
    # Console messages, so tests can assert the page logged no errors.
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(str(CHROMEDRIVER))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    return driver
