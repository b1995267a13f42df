"""The HTTP edge itself: limits, malformed input, routing errors, rate limits, a missing
service, liveness, metrics and the OpenAPI document."""
import re
import uuid

import pytest
from nameko import config as nameko_config

from tests.system.conftest import MAX_BODY_BYTES, PASSWORD, SIGNIN_LIMIT


def error_of(response, status, code):
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code
    return error


@pytest.fixture
def gateway_alone(start_services):
    """The gateway with no other service running."""
    from services.gateway.service import GatewayService
    return start_services(GatewayService)


# --- malformed and oversized input -----------------------------------------------------

def test_body_larger_than_the_limit_is_refused(api):
    too_big = {"email": "big@example.org", "password": PASSWORD,
               "display_name": "x" * (MAX_BODY_BYTES + 1)}
    error_of(api.post("/accounts", json=too_big), 413, "too_large")

    def chunks():  # no Content-Length: the actual length counts
        yield b'{"email": "big@example.org", "display_name": "'
        for _ in range(MAX_BODY_BYTES // 512 + 1):
            yield b"y" * 512
        yield b'"}'
    response = api.post("/accounts", data=chunks(),
                        headers={"Content-Type": "application/json"})
    error_of(response, 413, "too_large")
    assert "X-Correlation-ID" in response.headers


def test_chunked_body_within_the_limit_is_read(api):
    def chunks():
        yield b'{"email": "chunked@example.org", '
        yield f'"password": "{PASSWORD}", "display_name": "Chunky"}}'.encode()
    response = api.post("/accounts", data=chunks(),
                        headers={"Content-Type": "application/json"})
    assert response.status_code == 201, response.text
    assert response.json()["email"] == "chunked@example.org"


def test_unknown_fields_and_bad_json_are_400(api):
    unknown = api.post("/accounts", json={"email": "u@example.org", "password": PASSWORD,
                                          "display_name": "U", "is_staff": True})
    assert error_of(unknown, 400, "validation_error")["fields"] == {
        "is_staff": ["Unknown field."]}

    for body in (b'{"email": ', b"not json at all", b'{"a": NaN}', b"\xff\xfe"):
        bad = api.post("/accounts", data=body, headers={"Content-Type": "application/json"})
        error_of(bad, 400, "validation_error")

    not_an_object = api.post("/accounts", json=["a", "list"])
    assert "_schema" in error_of(not_an_object, 400, "validation_error")["fields"]
    # Nothing of that was registered.
    error_of(api.post("/sessions", json={"email": "u@example.org", "password": PASSWORD}),
             401, "unauthenticated")


# --- routing errors and correlation ids ----------------------------------------------------

def test_unknown_paths_and_methods_answer_json(api):
    for path in ("/nowhere", "/groups/not-a-uuid/members", "/groups/123/verify"):
        response = api.get(path)
        assert error_of(response, 404, "not_found")
        assert response.headers["X-Correlation-ID"]
    outside = api.get("/favicon.ico", prefix="")
    assert outside.status_code == 404 and outside.headers["X-Correlation-ID"]

    wrong_method = api.request("PUT", "/groups")
    error_of(wrong_method, 405, "method_not_allowed")
    assert set(wrong_method.headers["Allow"].split(", ")) >= {"GET", "POST"}


def test_correlation_id_is_echoed_or_made(api):
    given = "web-ui.req_42-abc"
    response = api.get("/groups", headers={"X-Correlation-ID": given})
    assert response.status_code == 200
    assert response.headers["X-Correlation-ID"] == given

    failed = api.get(f"/groups/{uuid.uuid4()}", headers={"X-Correlation-ID": given})
    assert failed.status_code == 404 and failed.headers["X-Correlation-ID"] == given

    for unsafe in ("has spaces in it", "x" * 101, "semi;colon", ""):
        made = api.get("/groups", headers={"X-Correlation-ID": unsafe})
        assert made.headers["X-Correlation-ID"] != unsafe
        uuid.UUID(made.headers["X-Correlation-ID"])

    first, second = api.get("/groups"), api.get("/groups")
    assert first.headers["X-Correlation-ID"] != second.headers["X-Correlation-ID"]


# --- sign-in rate limits ------------------------------------------------------------------

def test_failed_sign_ins_are_rate_limited_per_email(api):
    account = api.register("Target")
    wrong = {"email": account["email"], "password": "not the password"}
    for _ in range(SIGNIN_LIMIT):
        error_of(api.post("/sessions", json=wrong), 401, "unauthenticated")
    limited = api.post("/sessions", json=wrong)
    error_of(limited, 429, "rate_limited")
    assert int(limited.headers["Retry-After"]) > 0
    # Even the right password waits: the window is per email, not per guess.
    right = api.post("/sessions", json={"email": account["email"].upper(),
                                        "password": PASSWORD})
    error_of(right, 429, "rate_limited")
    # Another account is not affected.
    other = api.register("Bystander")
    assert api.post("/sessions", json={"email": other["email"],
                                       "password": PASSWORD}).status_code == 201


def test_sign_in_attempts_are_rate_limited_per_address(api):
    attempts_allowed = SIGNIN_LIMIT * 4
    for n in range(attempts_allowed):
        response = api.post("/sessions", json={"email": f"guess{n}@example.org",
                                               "password": "guessing away"})
        error_of(response, 401, "unauthenticated")
    limited = api.post("/sessions", json={"email": "yet.another@example.org",
                                          "password": "guessing away"})
    error_of(limited, 429, "rate_limited")
    assert int(limited.headers["Retry-After"]) > 0


# --- a service that is not running ----------------------------------------------------------

def test_missing_service_is_503_with_retry_after(gateway_alone):
    # A generous RPC timeout: only a fast "nobody is there" answer passes within the
    # client's timeout below.
    with nameko_config.patch({"CIVIC_RPC_TIMEOUT": 60.0}, clear=False):
        for method, path, kwargs in (
                ("POST", "/sessions", {"json": {"email": "a@example.org",
                                                "password": PASSWORD}}),
                ("GET", "/groups", {}),
                ("GET", "/me", {"token": "some-token"})):
            response = gateway_alone.request(method, path, timeout=20, **kwargs)
            error_of(response, 503, "unavailable")
            assert response.headers["Retry-After"] == "5"
            assert response.headers["X-Correlation-ID"]
    # Validation needs no service: still a 400, not a 503.
    error_of(gateway_alone.post("/accounts", json={}), 400, "validation_error")


def test_liveness_and_metrics_need_no_other_service(gateway_alone):
    alive = gateway_alone.get("/healthz", prefix="")
    assert alive.status_code == 200
    assert alive.json() == {"status": "ok", "service": "gateway"}
    gateway_alone.get("/nowhere")

    scraped = gateway_alone.get("/metrics", prefix="")
    assert scraped.status_code == 200
    assert scraped.headers["Content-Type"].startswith("text/plain")
    text = scraped.text
    assert re.search(r'civic_http_requests_total\{method="GET",route="/healthz",'
                     r'status="200"\} [1-9]', text)
    assert re.search(r'civic_http_requests_total\{method="GET",route="<unmatched>",'
                     r'status="404"\} [1-9]', text)
    assert "civic_http_request_duration_seconds_bucket" in text


# --- OpenAPI ------------------------------------------------------------------------------

def test_openapi_document_is_valid_and_complete(gateway_alone):
    from openapi_spec_validator import validate

    from services.gateway.openapi import openapi_path, routes
    from services.gateway.service import GatewayService

    response = gateway_alone.get("/openapi.json")
    assert response.status_code == 200
    document = response.json()
    validate(document)

    served = {(path, method) for path, operations in document["paths"].items()
              for method in operations}
    declared = {(openapi_path(rule)[0], method.lower())
                for method, rule, _, _ in routes(GatewayService)}
    assert declared == served
    for path, method in [("/api/v1/accounts", "post"), ("/api/v1/sessions", "post"),
                         ("/api/v1/sessions/current", "delete"), ("/api/v1/me", "get"),
                         ("/api/v1/me/export", "get"), ("/api/v1/me", "delete"),
                         ("/api/v1/groups", "get"), ("/api/v1/groups", "post"),
                         ("/api/v1/groups/{group_id}", "get"),
                         ("/api/v1/groups/{group_id}/members", "post"),
                         ("/api/v1/groups/{group_id}/members/{account_id}/approve", "post"),
                         ("/api/v1/groups/{group_id}/members/{account_id}", "delete"),
                         ("/api/v1/groups/{group_id}/verify", "post"),
                         ("/api/v1/groups/{group_id}/networks", "post"),
                         ("/api/v1/staff/health", "get"),
                         ("/api/v1/staff/dead-letters", "get"),
                         ("/api/v1/staff/dead-letters/{dead_letter_id}/replay", "post")]:
        assert (path, method) in served, (path, method)

    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    operations = document["paths"]
    register = operations["/api/v1/accounts"]["post"]
    assert set(register["responses"]) >= {"201", "400", "409", "413", "503"}
    body_schema = register["requestBody"]["content"]["application/json"]["schema"]
    account_create = document["components"]["schemas"][body_schema["$ref"].split("/")[-1]]
    assert set(account_create["properties"]) == {"email", "password", "display_name",
                                                 "locale"}
    join = operations["/api/v1/groups/{group_id}/members"]["post"]
    assert {"201", "202", "401", "404", "409"} <= set(join["responses"])
    assert join["security"] == [{"bearerAuth": []}]
    verify = operations["/api/v1/groups/{group_id}/verify"]["post"]
    assert "403" in verify["responses"]
    assert "Retry-After" in operations["/api/v1/sessions"]["post"]["responses"]["429"][
        "headers"]
    listing = operations["/api/v1/groups"]["get"]
    assert {p["name"] for p in listing["parameters"]} == {"kind", "page", "per_page"}
    error_ref = listing["responses"]["400"]["content"]["application/json"]["schema"]
    assert error_ref == {"$ref": "#/components/schemas/Error"}
