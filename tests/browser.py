"""Debian's Chromium, headless, driven by Selenium, on a network where only this machine
resolves: what a page needs from elsewhere (a CDN, a web font) fails to load, as it would in a
government data centre without internet."""

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium_axe_python.axe import Axe

# WCAG 2.1 AA and the rules below it (axe-core's tags).
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


@contextmanager
def headless_chromium() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "chromium"
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,1600",
        # Offline: every name resolves to nothing except this machine.
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(
        options=options, service=Service(shutil.which("chromedriver") or "chromedriver")
    )
    try:
        yield driver
    finally:
        driver.quit()


def serious_violations(driver: webdriver.Chrome) -> list[dict[str, Any]]:
    """axe-core's serious and critical WCAG 2.1 AA violations on the page shown."""
    axe = Axe(driver)
    axe.inject()  # type: ignore[no-untyped-call]
    results = axe.run(options={"runOnly": {"type": "tag", "values": WCAG_AA}})
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["html"] for n in v["nodes"]][:3]}
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def logged_errors(driver: webdriver.Chrome) -> list[str]:
    """What the page logged as errors (a script or stylesheet that did not load, among others)."""
    logged = driver.get_log("browser")  # type: ignore[no-untyped-call]
    return [entry["message"] for entry in logged if entry["level"] == "SEVERE"]
