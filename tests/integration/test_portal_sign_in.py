"""Sign-in to the portal through an OpenID Connect provider, over real HTTP: the code flow with
PKCE ends in a session whose bearer token the services accept, and every way the answer can be
wrong (another sign-in's state, a code used twice, no pending sign-in, a token the services
would refuse) is refused with its own code."""

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from devstack.infra import free_port
from services.portal.app import create_app
from services.portal.config import PortalSettings
from tests.receivers import IdentityProvider
from tests.support import serving

BUDI = {
    "sub": "budi-19780101",
    "name": "Budi Santoso",
    "role": "agency_admin",
    "agency_id": "dinas-pupr-kota-ambon",
}


@dataclass
class SignIn:
    portal: str
    provider: IdentityProvider


@pytest.fixture
async def sign_in() -> AsyncIterator[SignIn]:
    port = free_port()
    portal_url = f"http://127.0.0.1:{port}"
    provider = IdentityProvider(
        client_id="lapor-portal",
        client_secret="s3cret",
        redirect_uri=f"{portal_url}/masuk/oidc/callback",
        person=dict(BUDI),
    )
    async with serving(provider.app()) as issuer:
        provider.issuer = issuer
        settings = PortalSettings(
            portal_oidc_issuer=issuer,
            portal_oidc_client_id="lapor-portal",
            portal_oidc_client_secret="s3cret",
            portal_oidc_redirect_url=provider.redirect_uri,
            portal_cookie_secure=False,
            portal_session_secret="portal-test-session-secret-0123456789",
            auth_jwt_public_key=provider.public_pem,
            auth_jwt_issuer=issuer,
            # No service runs here: the pages say so and still render.
            portal_intake_url="http://127.0.0.1:9",
            portal_routing_url="http://127.0.0.1:9",
            portal_sla_url="http://127.0.0.1:9",
            portal_standards_url="http://127.0.0.1:9",
        )
        async with serving(create_app(settings), port=port):
            yield SignIn(portal_url, provider)


async def test_a_provider_sign_in_ends_in_a_session_with_the_providers_token(
    sign_in: SignIn,
) -> None:
    async with httpx.AsyncClient(base_url=sign_in.portal, follow_redirects=True) as browser:
        assert "/masuk/oidc" in (await browser.get("/masuk")).text
        landed = await browser.get("/masuk/oidc")
        assert landed.url.path == "/konsol"
        # Signed in; the console itself says the services (none run here) do not answer.
        assert landed.status_code == 503
        assert "Budi Santoso" in landed.text
        assert len(sign_in.provider.exchanged) == 1
        # The pending sign-in is gone once used.
        assert "lapor_oidc" not in {c.name for c in browser.cookies.jar if c.value}


async def test_every_wrong_answer_from_the_provider_is_refused_with_its_reason(
    sign_in: SignIn,
) -> None:
    async with httpx.AsyncClient(base_url=sign_in.portal) as browser:
        # No sign-in was started from this browser.
        refused = await browser.get("/masuk/oidc/callback", params={"code": "x", "state": "y"})
        assert (refused.status_code, refused.json()["code"]) == (400, "sign_in_expired")

        to_provider = await browser.get("/masuk/oidc")
        at_provider = await browser.get(to_provider.headers["location"])
        back = httpx.URL(at_provider.headers["location"])
        code, state = back.params["code"], back.params["state"]

        wrong_state = await browser.get(
            "/masuk/oidc/callback", params={"code": code, "state": state + "x"}
        )
        assert (wrong_state.status_code, wrong_state.json()["code"]) == (400, "state_mismatch")

        done = await browser.get("/masuk/oidc/callback", params={"code": code, "state": state})
        assert done.status_code == 303
        replayed = await browser.get("/masuk/oidc/callback", params={"code": code, "state": state})
        assert replayed.status_code == 400  # the pending cookie went with the first use

    # A person the provider vouches for but whose token names no role the services know.
    sign_in.provider.person = {"sub": "tamu", "name": "Tamu", "role": "visitor"}
    async with httpx.AsyncClient(base_url=sign_in.portal) as browser:
        to_provider = await browser.get("/masuk/oidc")
        returning = (await browser.get(to_provider.headers["location"])).headers["location"]
        unusable = await browser.get(returning)
        assert (unusable.status_code, unusable.json()["code"]) == (400, "token_unusable")
        assert "Tamu" not in (await browser.get("/")).text
