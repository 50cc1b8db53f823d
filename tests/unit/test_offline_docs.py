"""/docs and /redoc of every service work on a network without internet: the pages name no
address outside the service, and every script, stylesheet and icon they load is served by the
service itself."""

import importlib
import re

import httpx
import pytest

from kernel.http import DOCS_ASSETS
from kernel.runner import SERVICES

# What a page loads: src= and href= of its tags, and url(...) in its inline styles.
LOADED = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url\(\s*["']?([^"')]+)""")


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_documentation_pages_load_nothing_from_outside(service: str, page: str) -> None:
    module = importlib.import_module(f"services.{service}.app")
    app = module.create_app(module.Settings())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        html = await client.get(page)
        assert html.status_code == 200 and "text/html" in html.headers["content-type"]
        loaded = [a or b for a, b in LOADED.findall(html.text)]
        assert any(url.startswith(DOCS_ASSETS) and url.endswith(".js") for url in loaded)
        assert not re.search(r"https?://|//[a-z]", html.text.replace("http://svc", ""))
        for url in loaded:
            asset = await client.get(url)
            assert asset.status_code == 200 and asset.content, url
        # The page's script then reads the service's own OpenAPI document.
        assert "/openapi.json" in html.text
        assert (await client.get("/openapi.json")).status_code == 200
