"""``make screenshots``: the portal's main pages, as a person sees them, into docs/screenshots.

Starts the whole platform on free ports (embedded broker and database), signs in with the
development sign-in, files a report, and photographs each page in headless Chromium.
"""

import time
from pathlib import Path

import httpx
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from devstack.browser import fill_filing_form, headless_chromium
from devstack.platform import start_platform

OUT = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
QUIET = {"LOG_LEVEL": "WARNING"}  # start_platform sets the embedded broker's fetch wait


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    platform = start_platform(extra_env=QUIET, front_ends=("portal",))
    portal = platform.url("portal")
    try:
        with headless_chromium(width=412, height=1400) as phone:
            phone.get(f"{portal}/?lang=id")
            sign_in(phone, portal, "Siti", "citizen")
            phone.get(f"{portal}/lapor")
            shoot(phone, "file")
            fill_filing_form(phone, "Jalan berlubang di depan pasar")
            phone.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
            tracking_id = phone.find_element(By.ID, "tracking-id").text
            shoot(phone, "filed")
            agency = routed_to(platform.url("intake"), tracking_id)
            phone.get(f"{portal}/lacak?id={tracking_id}")
            shoot(phone, "track")
            phone.get(f"{portal}/publik")
            shoot(phone, "public")
        with headless_chromium(width=1280, height=1000) as desk:
            desk.get(f"{portal}/?lang=id")
            sign_in(desk, portal, "Budi", "agency_admin", agency)
            desk.get(f"{portal}/konsol")
            shoot(desk, "console")
            desk.get(f"{portal}/konsol/laporan/{tracking_id}")
            shoot(desk, "console-report")
    finally:
        platform.stop()
    print(f"screenshots in {OUT}")


def routed_to(intake: str, tracking_id: str) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        report = httpx.get(f"{intake}/v1/complaints/{tracking_id}").json()
        if report.get("agency") and report.get("deadline"):
            return str(report["agency"]["id"])
        time.sleep(0.5)
    raise TimeoutError(f"{tracking_id} was not routed within a minute")


def sign_in(
    browser: webdriver.Chrome, portal: str, name: str, role: str, agency_id: str = ""
) -> None:
    browser.get(f"{portal}/masuk")
    browser.find_element(By.ID, "name").send_keys(name)
    Select(browser.find_element(By.ID, "role")).select_by_value(role)
    if agency_id:
        Select(browser.find_element(By.ID, "agency_id")).select_by_value(agency_id)
    browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()


def shoot(browser: webdriver.Chrome, name: str) -> None:
    browser.save_screenshot(str(OUT / f"{name}.png"))


if __name__ == "__main__":
    main()
