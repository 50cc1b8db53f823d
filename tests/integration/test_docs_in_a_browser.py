"""Each service's /docs in a real browser (Debian's Chromium, headless) that can reach nothing
but the service: Swagger UI renders the service's operations, so the page works on a network
without internet."""

import asyncio
import importlib
from collections.abc import Iterator

import pytest
import uvicorn
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from devstack.infra import free_port, wait_for_port
from kernel.runner import SERVICES
from tests.browser import headless_chromium, logged_errors


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    with headless_chromium() as driver:
        yield driver


@pytest.mark.parametrize("service", SERVICES)
async def test_swagger_ui_renders_every_operation_with_no_internet(
    service: str, browser: webdriver.Chrome
) -> None:
    module = importlib.import_module(f"services.{service}.app")
    app = module.create_app(module.Settings())
    port = free_port()
    # The pages need no broker or database: served without the app's lifespan.
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_config=None)
    )
    task = asyncio.create_task(server.serve())
    try:
        await asyncio.to_thread(wait_for_port, port, timeout=10)
        operations = {
            (method.upper(), path)
            for path, item in app.openapi()["paths"].items()
            for method in item
            if method in {"get", "post", "put", "patch", "delete"}
        }

        def rendered() -> set[tuple[str, str]]:
            browser.get(f"http://127.0.0.1:{port}/docs")
            WebDriverWait(browser, 20).until(
                expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".opblock"))
            )
            # An operation with two tags is shown under each: compare what is shown.
            return {
                (
                    block.find_element(By.CSS_SELECTOR, ".opblock-summary-method").text,
                    block.find_element(By.CSS_SELECTOR, ".opblock-summary-path").get_attribute(
                        "data-path"
                    )
                    or "",
                )
                for block in browser.find_elements(By.CSS_SELECTOR, ".opblock")
            }

        assert await asyncio.to_thread(rendered) == operations
        assert logged_errors(browser) == []
    finally:
        server.should_exit = True
        await task
