"""The HTTP edge itself: limits, malformed input, routing errors, rate limits, a missing
service, liveness, metrics and the OpenAPI document."""

import re
import uuid

import pytest
from nameko import config as nameko_config

from tests.system.conftest import MAX_BODY_BYTES, PASSWORD, SIGNIN_LIMIT, error_of, new_group


@pytest.fixture
def gateway_alone(start_services):
    """The gateway with no other service running."""
    from services.gateway.service import GatewayService

    return start_services(GatewayService)


# --- malformed and oversized input -----------------------------------------------------


def test_body_larger_than_the_limit_is_refused(api):
    too_big = {
        "email": "big@example.org",
        "password": PASSWORD,
        "display_name": "x" * (MAX_BODY_BYTES + 1),
    }
    error_of(api.post("/accounts", json=too_big), 413, "too_large")

    def chunks():  # no Content-Length: the actual length counts
        yield b'{"email": "big@example.org", "display_name": "'
        for _ in range(MAX_BODY_BYTES // 512 + 1):
            yield b"y" * 512
        yield b'"}'

    response = api.post("/accounts", data=chunks(), headers={"Content-Type": "application/json"})
    error_of(response, 413, "too_large")
    assert "X-Correlation-ID" in response.headers


def test_chunked_body_within_the_limit_is_read(api):
    def chunks():
        yield b'{"email": "chunked@example.org", '
        yield f'"password": "{PASSWORD}", "display_name": "Chunky"}}'.encode()

    response = api.post("/accounts", data=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 201, response.text
    assert response.json()["email"] == "chunked@example.org"


def test_unknown_fields_and_bad_json_are_400(api):
    unknown = api.post(
        "/accounts",
        json={
            "email": "u@example.org",
            "password": PASSWORD,
            "display_name": "U",
            "is_staff": True,
        },
    )
    assert error_of(unknown, 400, "validation_error")["fields"] == {"is_staff": ["Unknown field."]}

    for body in (
        b'{"email": ',
        b"not json at all",
        b'{"a": NaN}',
        b"\xff\xfe",
        b"null",
        b"true",
        b'"\\u0000"',
        b'{"email": 1e999}',
        b"[" * 2000 + b"]" * 2000,
    ):
        bad = api.post("/accounts", data=body, headers={"Content-Type": "application/json"})
        error_of(bad, 400, "validation_error")

    not_an_object = api.post("/accounts", json=["a", "list"])
    assert "_schema" in error_of(not_an_object, 400, "validation_error")["fields"]
    # Nothing of that was registered.
    error_of(
        api.post("/sessions", json={"email": "u@example.org", "password": PASSWORD}),
        401,
        "unauthenticated",
    )


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


# --- sign-in and registration rate limits -------------------------------------------------


def test_failed_sign_ins_are_rate_limited_per_email_and_address(api):
    account = api.register("Target")
    wrong = {"email": account["email"], "password": "not the password"}
    for _ in range(SIGNIN_LIMIT):
        error_of(api.post("/sessions", json=wrong), 401, "unauthenticated")
    limited = api.post("/sessions", json=wrong)
    error_of(limited, 429, "rate_limited")
    assert int(limited.headers["Retry-After"]) > 0
    # Even the right password waits here: the window is per email, not per guess.
    right = {"email": account["email"].upper(), "password": PASSWORD}
    error_of(api.post("/sessions", json=right), 429, "rate_limited")
    # Another account is not affected.
    other = api.register("Bystander")
    assert (
        api.post("/sessions", json={"email": other["email"], "password": PASSWORD}).status_code
        == 201
    )
    # Nor is the account's owner elsewhere: one address cannot lock it for everyone.
    elsewhere = api.from_address("127.0.0.2")
    try:
        assert elsewhere.post("/sessions", json=right).status_code == 201
    finally:
        elsewhere.close()


def test_failed_sign_ins_are_rate_limited_per_address(api):
    attempts_allowed = SIGNIN_LIMIT * 4
    for n in range(attempts_allowed):
        response = api.post(
            "/sessions", json={"email": f"guess{n}@example.org", "password": "guessing away"}
        )
        error_of(response, 401, "unauthenticated")
    limited = api.post(
        "/sessions", json={"email": "yet.another@example.org", "password": "guessing away"}
    )
    error_of(limited, 429, "rate_limited")
    assert int(limited.headers["Retry-After"]) > 0


def test_a_town_hall_meeting_signs_in_over_one_address(api):
    # Sixty residents on the hall's Wi-Fi, well within five minutes (the window), a few
    # of them mistyping first: successes are not counted against the address.
    residents = [api.register(f"Resident {n}") for n in range(60)]
    typos = SIGNIN_LIMIT * 4 - 1  # one short of the address's failure limit
    for resident in residents[:typos]:
        wrong = api.post(
            "/sessions", json={"email": resident["email"], "password": "mistyped password"}
        )
        error_of(wrong, 401, "unauthenticated")
    for resident in residents:
        response = api.post("/sessions", json={"email": resident["email"], "password": PASSWORD})
        assert response.status_code == 201, (resident["email"], response.text)


def test_registrations_are_rate_limited_per_address(start_services):
    from services.gateway.service import GatewayService
    from services.groups.service import GroupsService

    with nameko_config.patch({"CIVIC_SIGNUP_LIMIT": 3}, clear=False):
        api = start_services(GatewayService, GroupsService)
    for n in range(3):
        api.register(f"Signup {n}")
    fourth = {
        "email": f"signup.{uuid.uuid4().hex[:8]}@example.org",
        "password": PASSWORD,
        "display_name": "Too many",
    }
    limited = api.post("/accounts", json=fourth)
    error_of(limited, 429, "rate_limited")
    assert 3500 < int(limited.headers["Retry-After"]) <= 3600
    # Nothing was registered: the limit is checked before the groups service is asked.
    error_of(
        api.post("/sessions", json={"email": fourth["email"], "password": PASSWORD}),
        401,
        "unauthenticated",
    )
    # Invalid input is told as such (it is checked first); another address registers.
    error_of(api.post("/accounts", json={"email": "x"}), 400, "validation_error")
    elsewhere = api.from_address("127.0.0.2")
    try:
        assert elsewhere.post("/accounts", json=fourth).status_code == 201
    finally:
        elsewhere.close()


# --- a service that is not running ----------------------------------------------------------


def test_missing_service_is_503_with_retry_after(gateway_alone):
    # A generous RPC timeout: only a fast "nobody is there" answer passes within the
    # client's timeout below.
    with nameko_config.patch({"CIVIC_RPC_TIMEOUT": 60.0}, clear=False):
        for method, path, kwargs in (
            ("POST", "/sessions", {"json": {"email": "a@example.org", "password": PASSWORD}}),
            ("GET", "/groups", {}),
            ("GET", "/me", {"token": "some-token"}),
        ):
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
    assert re.search(
        r'civic_http_requests_total\{method="GET",route="/healthz",'
        r'status="200"\} [1-9]',
        text,
    )
    assert re.search(
        r'civic_http_requests_total\{method="GET",route="<unmatched>",'
        r'status="404"\} [1-9]',
        text,
    )
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

    served = {
        (path, method) for path, operations in document["paths"].items() for method in operations
    }
    declared = {
        (openapi_path(rule)[0], method.lower()) for method, rule, _, _ in routes(GatewayService)
    }
    assert declared == served
    for path, method in [
        ("/api/v1/accounts", "post"),
        ("/api/v1/sessions", "post"),
        ("/api/v1/accounts/confirmations", "post"),
        ("/api/v1/accounts/confirmations/{token}", "get"),
        ("/api/v1/me/confirmation-email", "post"),
        ("/api/v1/sessions/current", "delete"),
        ("/api/v1/me", "get"),
        ("/api/v1/me/export", "get"),
        ("/api/v1/me", "delete"),
        ("/api/v1/groups", "get"),
        ("/api/v1/groups", "post"),
        ("/api/v1/groups/{group_id}", "get"),
        ("/api/v1/groups/{group_id}/members", "post"),
        ("/api/v1/groups/{group_id}/members/{account_id}/approve", "post"),
        ("/api/v1/groups/{group_id}/members/{account_id}", "delete"),
        ("/api/v1/groups/{group_id}/verify", "post"),
        ("/api/v1/groups/{group_id}/networks", "post"),
        ("/api/v1/staff/health", "get"),
        ("/api/v1/staff/dead-letters", "get"),
        ("/api/v1/staff/dead-letters/{dead_letter_id}/replay", "post"),
    ]:
        assert (path, method) in served, (path, method)

    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    operations = document["paths"]
    register = operations["/api/v1/accounts"]["post"]
    assert set(register["responses"]) >= {"201", "400", "409", "413", "415", "503"}
    assert "415" not in operations["/api/v1/groups"]["get"]["responses"]
    assert "403" in operations["/metrics"]["get"]["responses"]
    one_click = operations["/api/v1/unsubscribe/{token}"]["post"]["requestBody"]
    assert "application/x-www-form-urlencoded" in one_click["content"]
    body_schema = register["requestBody"]["content"]["application/json"]["schema"]
    account_create = document["components"]["schemas"][body_schema["$ref"].split("/")[-1]]
    assert set(account_create["properties"]) == {"email", "password", "display_name", "locale"}
    join = operations["/api/v1/groups/{group_id}/members"]["post"]
    assert {"201", "202", "401", "404", "409"} <= set(join["responses"])
    assert join["security"] == [{"bearerAuth": []}]
    verify = operations["/api/v1/groups/{group_id}/verify"]["post"]
    assert "403" in verify["responses"]
    # Any write of a signed-in account may be refused for an unconfirmed email (403).
    assert "email_unconfirmed" in join["responses"]["403"]["description"]
    assert "403" not in operations["/api/v1/sessions/current"]["delete"]["responses"]
    assert "429" in register["responses"]
    resend = operations["/api/v1/me/confirmation-email"]["post"]
    assert {"202", "401", "409", "429"} <= set(resend["responses"])
    assert "403" not in resend["responses"]
    confirm = operations["/api/v1/accounts/confirmations"]["post"]
    assert {"204", "400"} <= set(confirm["responses"]) and confirm["security"] == []
    me = document["components"]["schemas"][
        operations["/api/v1/me"]["get"]["responses"]["200"]["content"]["application/json"][
            "schema"
        ]["$ref"].split("/")[-1]
    ]
    assert me["properties"]["email_confirmed"]["type"] == "boolean"
    assert "Retry-After" in operations["/api/v1/sessions"]["post"]["responses"]["429"]["headers"]
    listing = operations["/api/v1/groups"]["get"]
    assert {p["name"] for p in listing["parameters"]} >= {"kind", "page", "per_page"}
    parameters = {p["name"]: p for p in listing["parameters"]}
    assert parameters["page"]["schema"]["maximum"] == 100_000
    assert parameters["per_page"]["schema"]["maximum"] == 100
    # `?kind=` means any kind; `?page=` is an error: the document says which.
    assert parameters["kind"].get("allowEmptyValue") is True
    assert "allowEmptyValue" not in parameters["page"]
    error_ref = listing["responses"]["400"]["content"]["application/json"]["schema"]
    assert error_ref == {"$ref": "#/components/schemas/Error"}


# --- text no database can store, numbers and times out of range (never a 500) ----------


def test_lone_surrogates_are_refused_naming_the_field(platform):
    # `requests` sends "\ud800" as the JSON escape \ud800: valid JSON, not valid text.
    for path, body, field in (
        (
            "/accounts",
            {"email": "s@example.org", "password": PASSWORD, "display_name": "Sur\ud800rogate"},
            "display_name",
        ),
        ("/sessions", {"email": "\udfffx@example.org", "password": PASSWORD}, "email"),
    ):
        error = error_of(platform.post(path, json=body), 400, "validation_error")
        assert list(error["fields"]) == [field], error
    _, token = platform.resident()
    nested = platform.post(
        "/proposals",
        token=token,
        json={
            "title": "Benches",
            "body": "Please",
            "category": "leisure",
            "location": {"deep": ["fine", "bad \ud83d"]},
        },
    )
    assert error_of(nested, 400, "validation_error")["fields"] == {
        "location": {"deep": {"1": ["Not valid text: a lone surrogate (U+D83D)."]}}
    }
    # A field name no text could hold is reported too, and the answer is still JSON.
    key = platform.post("/accounts", json={"\ud800": 1, "email": "k@example.org"})
    assert list(error_of(key, 400, "validation_error")["fields"]) == ["\\ud800"]
    # A proper pair (an emoji) is text like any other.
    fine = platform.post(
        "/proposals",
        token=token,
        json={"title": "Benches \U0001f600", "body": "Please", "category": "leisure"},
    )
    assert fine.status_code == 201, fine.text


def test_control_characters_are_refused_in_bodies_and_query_strings(platform):
    _, token = platform.resident()
    for bad in ("nul\x00here", "escape\x1b[31m", "bell\x07", "lone\rreturn", "del\x7f", "c1\x85"):
        response = platform.post(
            "/proposals", token=token, json={"title": "Benches", "body": bad, "category": "leisure"}
        )
        assert list(error_of(response, 400, "validation_error")["fields"]) == ["body"], bad
    error = error_of(
        platform.post(
            "/accounts",
            json={"email": "nul@example.org", "password": PASSWORD, "display_name": "N\x00"},
        ),
        400,
        "validation_error",
    )
    assert list(error["fields"]) == ["display_name"]
    # Tabs, newlines and Windows line ends (\r\n) are text.
    fine = platform.post(
        "/proposals",
        token=token,
        json={"title": "Benches", "body": "One\ttwo\nthree\r\nfour", "category": "leisure"},
    )
    assert fine.status_code == 201, fine.text
    # The query string gets the same check.
    for query in ("q=a%00b", "q=bell%07", "sort%00=newest"):
        response = platform.get(f"/proposals?{query}")
        error_of(response, 400, "validation_error")


LIST_ROUTES = (
    "/proposals",
    "/groups",
    "/openings",
    "/consultations",
    "/projects",
    "/events",
    "/notifications",
    "/follows",
    "/staff/activity",
)


def test_page_numbers_out_of_range_are_400_on_every_list(whole_platform, make_staff):
    client = whole_platform
    staff_token = client.sign_in(make_staff())
    group = new_group(client, staff_token, "Pagers", kind="business")
    opening_id = uuid.uuid4()
    routes = LIST_ROUTES + (f"/groups/{group['id']}/openings", f"/openings/{opening_id}/interest")
    for path in routes:
        for page in ("99999999999999999999", str(2**62), "100001", "0", "-1"):
            response = client.get(path, token=staff_token, params={"page": page})
            assert error_of(response, 400, "validation_error")["fields"] == {
                "page": ["Must be greater than or equal to 1 and less than or equal to 100000."]
            }, (path, page)
        too_many = client.get(path, token=staff_token, params={"per_page": "101"})
        assert list(error_of(too_many, 400, "validation_error")["fields"]) == ["per_page"], path
    for path in LIST_ROUTES + (f"/groups/{group['id']}/openings",):
        last = client.get(path, token=staff_token, params={"page": "100000"})
        assert last.status_code == 200, (path, last.text)
        assert last.json()["items"] == [] and last.json()["page"] == 100000


def test_times_beyond_any_calendar_are_400(whole_platform, make_staff):
    client = whole_platform
    staff_token = client.sign_in(make_staff())
    for since in (
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59-14:00",
        "1899-12-31T23:59:59+00:00",
        "9001-01-01T00:00:00Z",
    ):
        response = client.get("/staff/activity", token=staff_token, params={"since": since})
        assert list(error_of(response, 400, "validation_error")["fields"]) == ["since"], since
    for name in ("from", "to"):
        response = client.get("/events", params={name: "0001-01-01T00:00:00+14:00"})
        assert list(error_of(response, 400, "validation_error")["fields"]) == [name]
    fine = client.get(
        "/staff/activity", token=staff_token, params={"since": "2026-01-01T00:00:00+01:00"}
    )
    assert fine.status_code == 200, fine.text


# --- headers, media types, who may scrape metrics, an oversized body sent in full ------


def test_every_answer_carries_security_headers_and_private_ones_no_store(platform):
    _, token = platform.resident()
    answers = {
        "public": platform.get("/proposals"),
        "unknown path": platform.get("/nowhere"),
        "liveness": platform.get("/healthz", prefix=""),
        "bad input": platform.get("/proposals", params={"page": "0"}),
        "registration": platform.post("/accounts", json={}),
        "signed in": platform.get("/proposals", token=token),
        "bad token": platform.get("/proposals", token="not-a-token"),
        "me": platform.get("/me", token=token),
        "me anonymous": platform.get("/me"),
        "export": platform.get("/me/export", token=token),
        "staff": platform.get("/staff/health"),
        "unsubscribe": platform.get("/unsubscribe/some-token"),
        "follows": platform.get("/follows"),
        "notifications": platform.get("/notifications"),
    }
    for name, response in answers.items():
        assert response.headers["X-Content-Type-Options"] == "nosniff", name
        assert response.headers["Referrer-Policy"] == "no-referrer", name
    for name in ("public", "unknown path", "liveness", "bad input"):
        assert "no-store" not in answers[name].headers.get("Cache-Control", ""), name
    for name in (
        "registration",
        "signed in",
        "bad token",
        "me",
        "me anonymous",
        "export",
        "staff",
        "unsubscribe",
        "follows",
        "notifications",
    ):
        assert answers[name].headers["Cache-Control"] == "no-store", name


def test_bodies_other_than_json_are_415(platform):
    for content_type, body in (
        ("application/x-www-form-urlencoded", "email=a%40b.se"),
        ("text/plain", '{"email": "a@example.org"}'),
        ("multipart/form-data; boundary=x", "--x--"),
        ("application/jsonx", "{}"),
        (None, '{"email": "a"}'),
    ):
        headers = {"Content-Type": content_type} if content_type else {}
        response = platform.post("/accounts", data=body.encode(), headers=headers)
        error = error_of(response, 415, "unsupported_media_type")
        assert "application/json" in error["message"], content_type
        assert "fields" not in error
    # JSON with any charset parameter (read as UTF-8, as RFC 8259 says) is fine.
    for content_type in ("application/json; charset=utf-8", "Application/JSON;charset=UTF-8"):
        response = platform.post(
            "/accounts",
            headers={"Content-Type": content_type},
            data=(
                '{"email": "x@example.org", "password": "' + PASSWORD + '", "display_name": "Åsa"}'
            ).encode(),
        )
        assert response.status_code in (201, 409), response.text
    # An action without input takes an empty body with no Content-Type at all.
    _, token = platform.resident()
    group = new_group(platform, token, "Typeless")
    _, other = platform.resident("Joiner")
    joined = platform.post(f"/groups/{group['id']}/members", token=other, data=b"")
    assert joined.status_code == 201, joined.text
    # A mail client's one-click unsubscribe (RFC 8058) is a form, and is taken.
    one_click = platform.post(
        "/unsubscribe/not-a-valid-token",
        data=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert one_click.status_code != 415


def test_metrics_only_for_allowed_networks_and_staff(api, make_staff):
    # Allowed by default: this machine (127.0.0.0/8, ::1).
    assert api.get("/metrics", prefix="").status_code == 200
    staff_token = api.sign_in(make_staff())
    _, resident_token = api.resident()
    with nameko_config.patch({"CIVIC_METRICS_ALLOW": ["10.0.0.0/8", "fd00::/8"]}, clear=False):
        refused = api.get("/metrics", prefix="")
        assert "metrics" in error_of(refused, 403, "forbidden")["message"]
        assert "civic_http_requests" not in refused.text
        error_of(api.get("/metrics", prefix="", token=resident_token), 403, "forbidden")
        error_of(api.get("/metrics", prefix="", token="forged"), 401, "unauthenticated")
        scraped = api.get("/metrics", prefix="", token=staff_token)
        assert scraped.status_code == 200 and "civic_http_requests" in scraped.text
        assert scraped.headers["Cache-Control"] == "no-store"
    with nameko_config.patch({"CIVIC_METRICS_ALLOW": ["127.0.0.1/32"]}, clear=False):
        assert api.get("/metrics", prefix="").status_code == 200


def test_a_plain_client_sending_a_large_body_reads_its_413(api):
    import json
    import urllib.error
    import urllib.request

    # urllib sends the whole body before it reads anything, and says `Connection: close`.
    # A server that answers 413 at once and closes with the body unread resets the
    # connection, and the client reads no answer. 6 MB: more than this machine's
    # loopback buffers hold (4 MB at most), less than the gateway reads and discards.
    for megabytes in (3, 6):
        body = json.dumps(
            {
                "email": "big@example.org",
                "password": PASSWORD,
                "display_name": "x" * (megabytes * 1024 * 1024),
            }
        ).encode()
        request = urllib.request.Request(
            f"{api.base_url}/api/v1/accounts",
            data=body,
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=30)
        assert refused.value.code == 413, megabytes
        answer = json.loads(refused.value.read())
        assert answer["error"]["code"] == "too_large"
    # The gateway is still fine afterwards.
    assert api.get("/groups").status_code == 200
