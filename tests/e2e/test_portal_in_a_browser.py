"""The portal and the officer console in a real browser (Debian's Chromium, headless, with no
network beyond this machine), over the whole platform as processes on the real broker and
database: a citizen files an anonim report and tracks it, an officer of the routed agency
follows it up and answers, the citizen rates and replies, an officer of another agency cannot
see it, and the national admin re-routes a report its agency returned. Every page is checked
with axe-core for serious and critical WCAG 2.1 AA violations."""

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

from devstack.browser import fill_filing_form
from devstack.platform import Platform
from tests.browser import headless_chromium, logged_errors, serious_violations
from tests.factories import standard_row, standards_csv
from tests.support import platform_on

WAIT_SECONDS = 30
PHOTO = "https://files.example.go.id/lapor/lubang.jpg"


@pytest.fixture(scope="module")
def platform(
    bootstrap: str, mongo_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    with platform_on(
        bootstrap,
        mongo_url,
        tmp_path_factory.mktemp("portal-logs"),
        env={"MONGO_DATABASE": "e2e_portal_{service}", "LOG_LEVEL": "WARNING"},
        front_ends=("portal",),
    ) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    with headless_chromium() as driver:
        yield driver


class Person:
    """One person at the browser: signs in through the development sign-in, reads pages."""

    def __init__(self, browser: webdriver.Chrome, portal: str) -> None:
        self.browser = browser
        self.portal = portal
        self.checked: set[str] = set()

    def open(self, path: str) -> None:
        self.browser.get(self.portal + path)
        self.accessible()

    def accessible(self) -> None:
        """No serious or critical axe-core violation on the page (once per page kind)."""
        kind = self.browser.current_url.split("?")[0].rsplit("/", 1)[0] + self.browser.title
        if kind not in self.checked:
            self.checked.add(kind)
            assert serious_violations(self.browser) == [], self.browser.current_url

    def press(self, button: WebElement) -> None:
        """Click a form's button and wait for the page it leads to."""
        page = self.browser.find_element(By.TAG_NAME, "html")
        button.click()
        # Chromium may answer mid-navigation that the old node is in no document: not yet gone.
        WebDriverWait(self.browser, WAIT_SECONDS, ignored_exceptions=(WebDriverException,)).until(
            expected_conditions.staleness_of(page)
        )

    def text(self) -> str:
        return self.browser.find_element(By.TAG_NAME, "main").text

    def sign_in(self, name: str, role: str, agency_id: str = "") -> None:
        if self.browser.find_elements(By.CSS_SELECTOR, "form[action='/keluar'] button"):
            self.press(self.browser.find_element(By.CSS_SELECTOR, "form[action='/keluar'] button"))
        self.open("/masuk")
        self.browser.find_element(By.ID, "name").send_keys(name)
        Select(self.browser.find_element(By.ID, "role")).select_by_value(role)
        if agency_id:
            Select(self.browser.find_element(By.ID, "agency_id")).select_by_value(agency_id)
        self.press(self.browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]"))

    def submit(self, form_id: str, **fields: str) -> None:
        form = self.browser.find_element(By.ID, form_id)
        for name, value in fields.items():
            element = form.find_element(By.NAME, name)
            if element.tag_name == "select":
                Select(element).select_by_value(value)
            else:
                element.send_keys(value)
        self.press(form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
        self.accessible()

    def until(self, path: str, shows: Callable[[str], bool]) -> str:
        """Reload ``path`` until its content shows what is awaited; fail if it never does."""

        seen = [""]

        def shown(_: object) -> str | bool:
            self.browser.get(self.portal + path)
            seen[0] = self.text()
            return seen[0] if shows(seen[0]) else False

        try:
            shows_it = str(
                WebDriverWait(self.browser, WAIT_SECONDS, poll_frequency=0.5).until(shown)
            )
        except TimeoutException:
            raise AssertionError(f"{path} never showed it; last:\n{seen[0]}") from None
        self.accessible()
        return shows_it


def file_report(person: Person, title: str) -> str:
    person.open("/lapor")
    browser = person.browser
    fill_filing_form(browser, title)
    browser.find_element(By.TAG_NAME, "summary").click()  # the attachments, folded away
    browser.find_element(By.ID, "attachment_1_url").send_keys(PHOTO)
    browser.find_element(By.ID, "attachment_1_filename").send_keys("lubang.jpg")
    browser.find_element(By.ID, "attachment_1_size_kb").send_keys("250")
    person.press(browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]"))
    person.accessible()
    return browser.find_element(By.ID, "tracking-id").text


def agency_of(platform: Platform, tracking_id: str) -> str:
    answer = httpx.get(f"{platform.url('intake')}/v1/complaints/{tracking_id}").json()
    return str(answer["agency"]["id"])


def test_a_report_goes_from_a_citizens_phone_to_an_officers_queue_and_back(
    platform: Platform, browser: webdriver.Chrome, tmp_path: Path
) -> None:
    citizen = Person(browser, platform.url("portal"))
    citizen.open("/?lang=id")  # the browser asks for English; Bahasa Indonesia is chosen
    citizen.open("/privasi")
    assert "dimusnahkan" in citizen.text()  # intake's notice, in Bahasa Indonesia
    citizen.sign_in("Siti", "citizen")
    tracking_id = file_report(citizen, "Jalan berlubang di depan pasar")
    assert tracking_id.startswith("LAP-") or tracking_id

    # Tracked: routed, with its agency and its deadline in the place's own zone (Ambon: WIT).
    tracked = citizen.until(
        f"/lacak?id={tracking_id}", lambda t: "Diteruskan ke instansi" in t and "WIT" in t
    )
    assert "hari kerja lagi" in tracked
    agency = agency_of(platform, tracking_id)

    officer = citizen
    officer.sign_in("Budi", "agency_admin", agency)
    queue = officer.until("/konsol", lambda t: tracking_id in t)
    assert "Baru" in queue
    officer.open(f"/konsol/laporan/{tracking_id}")
    # The anonim reporter is not shown to the agency; the photo's description is.
    assert "siti@example.id" not in officer.text()
    photo = browser.find_element(By.LINK_TEXT, "lubang.jpg")
    assert photo.get_attribute("href") == PHOTO
    officer.submit("action-follow_up", text="Tim kami meninjau lokasi besok pagi.")
    assert "Tindakan tercatat." in officer.text()
    assert "Dalam tindak lanjut" in officer.text()
    officer.submit("action-answer", text="Lubang sudah ditambal pada 3 Desember.")
    assert "Dijawab" in officer.text()

    # An officer of another agency: not in the queue, and the report itself is refused.
    directory = httpx.get(f"{platform.url('routing')}/v1/directory").json()
    other = next(a["agency_id"] for a in directory["agencies"] if a["agency_id"] != agency)
    officer.sign_in("Ani", "agency_admin", other)
    assert tracking_id not in officer.until("/konsol", lambda t: "Konsol petugas" in t)
    assert logged_errors(browser) == []  # nothing failed to load so far
    browser.get(f"{platform.url('portal')}/konsol/laporan/{tracking_id}")
    assert "not_your_complaint" in browser.page_source
    assert ["403" in error for error in logged_errors(browser)] == [True]

    # The citizen rates the answer, then replies to it (the report reopens).
    citizen.sign_in("Siti", "citizen")
    citizen.open(f"/lacak?id={tracking_id}")
    assert "Lubang sudah ditambal" in citizen.text()
    form = browser.find_element(By.CSS_SELECTOR, f"form[action='/lacak/{tracking_id}/nilai']")
    Select(form.find_element(By.NAME, "score")).select_by_value("4")
    form.find_element(By.NAME, "comment").send_keys("Cepat, terima kasih.")
    citizen.press(form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    assert "Tindakan tercatat." in citizen.text()
    form = browser.find_element(By.CSS_SELECTOR, f"form[action='/lacak/{tracking_id}/balas']")
    form.find_element(By.NAME, "text").send_keys("Masih ada lubang kecil di sebelahnya.")
    citizen.press(form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    assert "Dibuka kembali" in citizen.text()

    # A second report, returned by its agency as not its authority, re-routed by the national
    # admin to another agency.
    bounced = file_report(citizen, "Lampu jalan padam sepekan")
    citizen.until(f"/lacak?id={bounced}", lambda t: "Diteruskan ke instansi" in t)
    first = agency_of(platform, bounced)
    officer.sign_in("Budi", "agency_admin", first)
    officer.until("/konsol", lambda t: bounced in t)
    officer.open(f"/konsol/laporan/{bounced}")
    officer.submit("action-bounce", reason="Lampu jalan wewenang PLN, bukan dinas kami.")
    assert "Dikembalikan" in officer.text()
    admin = officer
    admin.sign_in("Nasional", "national_admin")
    admin.until("/konsol", lambda t: bounced in t)
    admin.open(f"/konsol/laporan/{bounced}")
    target = next(a["agency_id"] for a in directory["agencies"] if a["agency_id"] != first)
    admin.submit("action-reroute", agency_id=target)
    assert "Tindakan tercatat." in admin.text()
    assert agency_of(platform, bounced) == target

    # Another citizen finds the first report by words of its title and supports it.
    neighbour = citizen
    neighbour.sign_in("Ani", "citizen")
    listed = neighbour.until("/publik?q=berlubang", lambda t: "Jalan berlubang di depan pasar" in t)
    assert "Lampu jalan padam" not in listed
    support = browser.find_element(
        By.CSS_SELECTOR, f"form[action='/publik/{tracking_id}/dukung'] button"
    )
    neighbour.press(support)
    assert "Dukungan tercatat." in neighbour.text()

    # The agency's admin imports its service standards (SIPP) and finds them scored; anyone
    # finds the published one.
    officer.sign_in("Budi", "agency_admin", agency)
    officer.open("/konsol/kinerja")
    sheet = tmp_path / "standar.csv"
    sheet.write_bytes(
        standards_csv(
            [
                standard_row(
                    agency_id=agency,
                    agency_name="",
                    unit_id="",
                    region_code="81.71",
                    service_name="Izin Galian Jalan",
                )
            ]
        )
    )
    form = browser.find_element(By.ID, "import-form")
    form.find_element(By.NAME, "file").send_keys(str(sheet))
    form.find_element(By.NAME, "publish").click()
    officer.press(form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    assert "1 standar tersimpan" in officer.text()
    assert "Izin Galian Jalan" in browser.find_element(By.ID, "scores").text
    found = citizen.until("/standar?q=galian", lambda t: "Izin Galian Jalan" in t)
    assert "1 hari kerja" in found and "Gratis" in found

    # The admin edits it in the SIPP editor: a new version, published, with a fee.
    officer.sign_in("Budi", "agency_admin", agency)
    officer.open("/konsol/kinerja")
    officer.press(browser.find_element(By.LINK_TEXT, "Izin Galian Jalan"))
    officer.accessible()
    editor = browser.find_element(By.ID, "standard-form")
    Select(editor.find_element(By.NAME, "fee_free")).select_by_value("tidak")
    editor.find_element(By.NAME, "fee_amount_idr").send_keys("150000")
    basis = editor.find_element(By.NAME, "fee_basis")
    basis.clear()
    basis.send_keys("Perda 3/2025")
    editor.find_element(By.NAME, "publish").click()
    officer.press(editor.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    assert "1 standar tersimpan" in officer.text()
    priced = citizen.until("/standar?q=galian", lambda t: "Rp 150.000" in t)
    assert "Perda 3/2025" in priced

    # The English pages pass the same checks (their texts differ, not their structure).
    citizen.open("/lapor?lang=en")
    assert "File a report" in citizen.text()
    citizen.open(f"/lacak?id={tracking_id}")
    assert "Reopened" in citizen.text()  # the status by name, in English

    assert logged_errors(browser) == []
