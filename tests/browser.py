"""What the browser tests ask of a page: no serious accessibility violation, no failed load.
The browser itself is ``devstack.browser.headless_chromium``."""

from typing import Any

from selenium import webdriver
from selenium_axe_python.axe import Axe

from devstack.browser import headless_chromium

__all__ = ["headless_chromium", "logged_errors", "serious_violations"]

# WCAG 2.1 AA and the rules below it (axe-core's tags).
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


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
