"""Headless Chromium for the browser tests: Debian's ``chromium`` and ``chromium-driver``
(.ci/run installs them) driven by Selenium, so no browser is downloaded. What the page logged
and requested is read back from Chrome's own logs (``goog:loggingPrefs``): the browser log holds
console errors, uncaught exceptions and failed loads; the performance log holds the DevTools
``Network`` events, every request the page made included."""

from __future__ import annotations

import json
import shutil
from contextlib import contextmanager

import pytest

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")


def need_chromium() -> None:
    """Skip the calling test where Chromium, its driver or Selenium is missing."""
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("needs Debian's chromium and chromium-driver (.ci/run installs them)")
    pytest.importorskip("selenium", reason="pip install selenium (the dev extra)")


@contextmanager
def chromium(width: int, height: int, *, offline: bool = False):
    """A Selenium driver of a fresh headless Chromium with a ``width`` x ``height`` window;
    ``offline``: the network is off (DevTools' network emulation, set before any page loads),
    so any request but ``file:`` and ``data:`` fails and is seen in both logs."""
    need_chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",  # Chromium refuses to run as root (CI) with its sandbox
        "--disable-dev-shm-usage",
        f"--window-size={width},{height}",
        "--disable-gpu",
        "--no-first-run",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        if offline:
            driver.execute_cdp_cmd("Network.enable", {})
            driver.execute_cdp_cmd(
                "Network.emulateNetworkConditions",
                {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
            )
        yield driver
    finally:
        driver.quit()


def console_errors(driver) -> list[str]:
    """The browser log's errors since the last call: ``console.error``, uncaught exceptions,
    resources that did not load."""
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def network_requests(driver) -> tuple[list[str], list[str]]:
    """``(requested, failed)`` since the last call: the URL of every request the page sent and
    of those whose loading failed (not cancelled by the page), from the DevTools ``Network`` events of the performance log."""
    url, requested, failed = {}, [], []
    for entry in driver.get_log("performance"):
        event = json.loads(entry["message"])["message"]
        params = event.get("params", {})
        if event["method"] == "Network.requestWillBeSent":
            url[params["requestId"]] = params["request"]["url"]
            requested.append(params["request"]["url"])
        elif event["method"] == "Network.loadingFailed" and not params.get("canceled"):
            # A request the page itself cancelled (a superseded fetch, a closed event stream)
            # is no failure; any other error (refused, offline, blocked) is.
            failed.append(url.get(params["requestId"], f"request {params['requestId']}"))
    return requested, failed
