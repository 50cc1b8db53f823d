"""Each service's OpenAPI document is valid OpenAPI 3.1 (``openapi-spec-validator``), and says
what the service does: every error is a problem document with its schema, every operation has a
default error, anonymous callers are allowed exactly where the service serves them, and every
credential a request may carry is a security scheme."""

import importlib
import json
from functools import cache
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator

from kernel.http import PROBLEM_JSON, problem
from kernel.runner import SERVICES
from services.asyncapi import PRODUCTION_KAFKA

METHODS = {"get", "post", "put", "patch", "delete"}


@cache
def document(service: str) -> dict[str, Any]:
    module = importlib.import_module(f"services.{service}.app")
    settings = module.Settings(
        **PRODUCTION_KAFKA, kafka_sasl_username=f"lapor-{service}", service_name=service
    )
    return dict(module.create_app(settings).openapi())


def operations(service: str) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document(service)["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


@pytest.mark.parametrize("service", SERVICES)
def test_the_document_is_valid_openapi(service: str) -> None:
    errors = [
        str(e).splitlines()[0] for e in OpenAPIV31SpecValidator(document(service)).iter_errors()
    ]
    assert errors == []


def test_the_validator_would_catch_a_default_that_breaks_its_own_pattern() -> None:
    """What intake's document had: ``region_code`` defaulting to '' against its pattern."""
    broken = json.loads(json.dumps(document("intake")))
    region = broken["components"]["schemas"]["ComplaintCreate"]["properties"]["region_code"]
    region["default"] = ""
    assert list(OpenAPIV31SpecValidator(broken).iter_errors())


@pytest.mark.parametrize("service", SERVICES)
def test_every_error_is_a_problem_document_with_its_schema(service: str) -> None:
    for method, path, operation in operations(service):
        responses = operation["responses"]
        assert "default" in responses, f"{method} {path}"
        for status, response in responses.items():
            if status.startswith(("4", "5")) or status == "default":
                content = response.get("content", {})
                assert PROBLEM_JSON in content, f"{method} {path} {status}"
                assert content[PROBLEM_JSON]["schema"] == {
                    "$ref": "#/components/schemas/Problem"
                }, f"{method} {path} {status}"


def test_the_problem_schema_describes_what_the_services_send() -> None:
    schema = document("intake")["components"]["schemas"]["Problem"]
    sent = json.loads(bytes(problem(422, "validation_failed", "title: too short", errors=[]).body))
    jsonschema.validate(sent, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"status": 422, "detail": "no code, no type"}, schema)


def test_anonymous_callers_are_allowed_exactly_where_the_service_serves_them() -> None:
    """Filing a report and following it by tracking ID work without a token; every other
    bearer-protected operation needs one."""
    anonymous = {
        ("post", "/v1/complaints"),
        ("get", "/v1/complaints/{tracking_id}"),
    }
    for service in SERVICES:
        for method, path, operation in operations(service):
            security = operation.get("security")
            if security is None:
                continue  # public: the directory, public complaints and standards, Open311
            allowed = {} in security
            assert allowed == ((method, path) in anonymous), f"{service} {method} {path}"


def test_every_credential_is_a_security_scheme() -> None:
    intake = document("intake")
    schemes = intake["components"]["securitySchemes"]
    assert schemes["IntegrationClientKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "An integration client's key (POST /v1/integration-clients makes one).",
    }
    assert schemes["SmsGatewayToken"]["name"] == "X-Gateway-Token"
    sms = intake["paths"]["/v1/channels/sms"]["post"]
    assert sms["security"] == [{"SmsGatewayToken": []}]
    submit = intake["paths"]["/v1/complaints"]["post"]
    assert {"IntegrationClientKey": []} in submit["security"]
    headers = [p["name"] for p in submit.get("parameters", []) if p["in"] == "header"]
    assert "X-API-Key" not in headers  # a credential, not a plain parameter


def test_the_open311_post_describes_its_form() -> None:
    post = document("intake")["paths"]["/open311/v2/requests.{fmt}"]["post"]
    form = post["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    assert form["required"] == ["api_key", "service_code"]
    assert {"lat", "long", "address_string", "description", "email"} <= set(form["properties"])
