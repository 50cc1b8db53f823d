"""Debian's Chromium, headless, driven by Selenium, on a network where only this machine
resolves: what a page needs from elsewhere (a CDN, a web font) fails to load, as it would in a
government data centre without internet. Used by the browser tests and ``make screenshots``."""

import shutil
from collections.abc import Iterator
from contextlib import contextmanager

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select


@contextmanager
def headless_chromium(*, width: int = 1280, height: int = 1600) -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "chromium"
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--window-size={width},{height}",
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


def fill_filing_form(browser: webdriver.Chrome, title: str) -> None:
    """An anonim pothole report in Ambon on the portal's filing form (the page shown), not yet
    sent: what ``make screenshots`` files, and the browser tests before adding to it."""
    browser.find_element(By.ID, "title").send_keys(title)
    browser.find_element(By.ID, "body").send_keys(
        "Lubang besar di Jalan Pattimura membahayakan pengendara motor."
    )
    Select(browser.find_element(By.ID, "category")).select_by_value("infrastruktur.jalan")
    Select(browser.find_element(By.ID, "region_code")).select_by_value("81.71")
    browser.find_element(By.NAME, "anonymous").click()
    browser.find_element(By.ID, "email").send_keys("siti@example.id")
