"""The accessibility check the portal's browser tests rely on finds what it should: a page with
an unlabelled field and grey-on-grey text fails it."""

from urllib.parse import quote

from tests.browser import headless_chromium, serious_violations

INACCESSIBLE = (
    "<!doctype html><html lang='id'><head><title>x</title></head><body><main>"
    "<input id='q'><p style='color:#bbb;background:#ccc'>Nomor pelacakan</p>"
    "</main></body></html>"
)


def test_axe_reports_an_unlabelled_field_and_too_little_contrast() -> None:
    with headless_chromium() as browser:
        browser.get("data:text/html," + quote(INACCESSIBLE))
        found = {violation["id"] for violation in serious_violations(browser)}
    assert {"label", "color-contrast"} <= found
