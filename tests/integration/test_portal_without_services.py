"""When a service does not answer, the portal says so with a 503 instead of showing an empty
queue or "no such report": an officer must never read an outage as nothing to do."""

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from devstack.infra import free_port
from services.portal.app import create_app
from services.portal.config import PortalSettings
from tests.support import serving

NOBODY = f"http://127.0.0.1:{free_port()}"  # a port where no service listens
UNAVAILABLE = "Layanan sedang tidak dapat dihubungi"


@pytest.fixture
async def portal() -> AsyncIterator[str]:
    settings = PortalSettings(
        portal_intake_url=NOBODY,
        portal_routing_url=NOBODY,
        portal_sla_url=NOBODY,
        portal_standards_url=NOBODY,
        portal_cookie_secure=False,
    )
    async with serving(create_app(settings)) as url:
        yield url


async def signed_in(browser: httpx.AsyncClient, role: str, agency_id: str = "") -> None:
    page = (await browser.get("/masuk?lang=id")).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    fields = {"csrf_token": token.group(1), "name": "Budi", "role": role, "agency_id": agency_id}
    assert (await browser.post("/masuk", data=fields)).status_code == 303


async def test_an_outage_is_said_on_every_page_that_needs_the_service(portal: str) -> None:
    async with httpx.AsyncClient(base_url=portal) as browser:
        await signed_in(browser, "agency_admin", "dinas-pupr-kota-ambon")
        for path in (
            "/konsol",
            "/konsol/kinerja",
            "/lacak?id=LPR-AAAAA-BBBBB",
            "/publik",
            "/standar",
        ):
            page = await browser.get(path)
            assert page.status_code == 503, path
            assert UNAVAILABLE in page.text, path
        assert (
            "Tidak ada laporan dengan nomor itu"
            not in (await browser.get("/lacak?id=LPR-AAAAA-BBBBB")).text
        )
        # A form without its CSRF token changes nothing, services or not.
        refused = await browser.post(
            "/konsol/laporan/LPR-AAAAA-BBBBB/tindakan", data={"action": "answer"}
        )
        assert (refused.status_code, refused.json()["code"]) == (403, "csrf_failed")
