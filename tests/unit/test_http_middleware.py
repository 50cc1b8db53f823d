"""The HTTP face every service shares, without a database: correlation IDs, request metrics by
route and status (500s included), the per-request database deadline, anonymous rate limits."""

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, Request
from pymongo import _csot

from kernel.http import correlation_id, create_app
from kernel.metrics import HTTP_REQUESTS
from kernel.ratelimit import RateLimiter

SERVICE = "middleware-test"


def counted(route: str, status: str, method: str = "GET") -> float:
    value = HTTP_REQUESTS.labels(SERVICE, method, route, status)._value.get()
    return float(value)


def app_under_test(limiter: RateLimiter | None = None) -> FastAPI:
    app = create_app(service=SERVICE, title="t", public_rate_limit=limiter, db_deadline_seconds=2.5)

    @app.get("/things/{thing_id}")
    async def thing(thing_id: str, request: Request) -> dict[str, object]:
        return {
            "thing": thing_id,
            "correlation_id": correlation_id(request),
            "db_deadline": _csot.get_timeout(),
        }

    @app.get("/broken")
    async def broken() -> None:
        raise RuntimeError("a bug")

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app_under_test(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def test_a_given_correlation_id_reaches_the_handler_and_comes_back(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/things/a", headers={"X-Correlation-ID": "corr-42"})
    assert response.status_code == 200
    assert response.headers["X-Correlation-ID"] == "corr-42"
    assert response.json()["correlation_id"] == "corr-42"


async def test_without_one_each_request_gets_its_own(client: httpx.AsyncClient) -> None:
    first, second = await client.get("/things/a"), await client.get("/things/a")
    minted = first.headers["X-Correlation-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", minted)
    assert first.json()["correlation_id"] == minted
    assert second.headers["X-Correlation-ID"] != minted


async def test_an_overlong_correlation_id_is_cut_to_128_characters(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/things/a", headers={"X-Correlation-ID": "x" * 500})
    assert response.headers["X-Correlation-ID"] == "x" * 128


async def test_every_database_call_of_a_request_shares_one_deadline(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/things/a")
    assert response.json()["db_deadline"] == pytest.approx(2.5)


async def test_requests_are_counted_by_route_template_and_status(
    client: httpx.AsyncClient,
) -> None:
    ok, missing, crashed = (
        counted("/things/{thing_id}", "200"),
        counted("unmatched", "404"),
        counted("/broken", "500"),
    )
    await client.get("/things/a")
    await client.get("/things/b")
    assert (await client.get("/nowhere")).status_code == 404
    assert (await client.get("/broken")).status_code == 500
    assert counted("/things/{thing_id}", "200") == ok + 2
    assert counted("unmatched", "404") == missing + 1
    assert counted("/broken", "500") == crashed + 1  # an escaped error is a 500 on the board


async def test_probes_and_scrapes_are_not_counted_as_requests(client: httpx.AsyncClient) -> None:
    """Kubernetes probes every few seconds and Prometheus scrapes: counted, they would be most
    of the traffic the error-rate and latency SLOs are computed from."""

    def probe_series() -> float:
        return sum(
            sample.value
            for metric in HTTP_REQUESTS.collect()
            for sample in metric.samples
            if sample.labels.get("service") == SERVICE
            and sample.labels.get("route") in {"/healthz", "/readyz", "/metrics"}
        )

    before, served = probe_series(), counted("/things/{thing_id}", "200")
    for path in ("/healthz", "/readyz", "/metrics"):
        assert (await client.get(path)).status_code == 200
    await client.get("/things/a")
    assert probe_series() == before == 0
    assert counted("/things/{thing_id}", "200") == served + 1


async def test_anonymous_callers_over_the_limit_get_429_and_signed_in_ones_do_not() -> None:
    limiter = RateLimiter(per_minute=1, burst=2)
    transport = httpx.ASGITransport(app=app_under_test(limiter))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        limited = counted("unmatched", "429")
        assert [(await http.get("/things/a")).status_code for _ in range(2)] == [200, 200]
        refused = await http.get("/things/a", headers={"X-Correlation-ID": "corr-429"})
        assert refused.status_code == 429
        assert refused.json()["code"] == "rate_limited"
        assert int(refused.headers["Retry-After"]) >= 1
        assert refused.headers["X-Correlation-ID"] == "corr-429"
        assert counted("unmatched", "429") == limited + 1  # refused before routing
        # Operations endpoints and callers with a token are not limited here.
        assert (await http.get("/healthz")).status_code == 200
        signed = await http.get("/things/a", headers={"Authorization": "Bearer x"})
        assert signed.status_code == 200
