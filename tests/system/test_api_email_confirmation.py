"""Email confirmation through the gateway: the emailed link (a real SMTP server), its
expiry, a new link on request, and the grace period after which an unconfirmed account's
writes are refused."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from nameko import config as nameko_config

from civic import signing
from civic.db import utcnow
from services.gateway.service import GatewayService
from services.groups.service import GroupsService
from services.notifications import email
from tests.conftest import wait_for
from tests.system.conftest import PASSWORD, error_of, new_group

LINK = re.compile(r"(\S+/confirm/(\S+))")


@pytest.fixture
def civic(mailing_platform):
    return mailing_platform


def mail_to(smtp, address, count=1):
    """The confirmation emails `address` got, once there are `count` of them."""

    def arrived():
        found = [message for message in smtp.messages() if message["To"] == address]
        return found if len(found) >= count else None

    return wait_for(arrived, timeout=30, message=f"{count} email(s) to {address}")


def register(client, name, locale):
    response = client.post(
        "/accounts",
        json={
            "email": f"{name.lower()}.{uuid.uuid4().hex[:8]}@example.org",
            "password": PASSWORD,
            "display_name": name,
            "locale": locale,
        },
    )
    assert response.status_code == 201, response.text
    account = response.json()
    return account, client.sign_in(account["email"])


def link_of(message) -> tuple[str, str]:
    link, token = LINK.search(message.get_content()).groups()
    return link, token


def me(client, token) -> dict:
    response = client.get("/me", token=token)
    assert response.status_code == 200, response.text
    return response.json()


def test_registering_sends_a_link_in_the_account_language_that_confirms(
    civic, smtp, civic_settings
):
    ann, ann_token = register(civic, "Ann", "en")
    bo, bo_token = register(civic, "Bo", "sv")
    assert me(civic, ann_token)["email_confirmed"] is False

    (to_ann,) = mail_to(smtp, ann["email"])
    assert to_ann["Subject"] == "Confirm your email address for Civic"
    assert "List-Unsubscribe" not in to_ann
    assert "The link is valid for 72 hours" in to_ann.get_content()
    (to_bo,) = mail_to(smtp, bo["email"])
    assert to_bo["Subject"] == "Bekräfta din e-postadress för Civic"
    assert "Länken gäller i 72 timmar" in to_bo.get_content()

    # The link opens the website's page, which confirms only with its button (mail
    # scanners follow links); Ann's client posts the link's token instead.
    link, token = link_of(to_ann)
    assert link.startswith("http://127.0.0.1:8000/confirm/")
    site_page = civic.get(f"/confirm/{token}", prefix="", headers={"Accept": "text/html"})
    assert site_page.status_code == 200 and f'action="/confirm/{token}"' in site_page.text
    assert me(civic, ann_token)["email_confirmed"] is False
    confirmed = civic.post("/accounts/confirmations", json={"token": token})
    assert confirmed.status_code == 204 and confirmed.content == b""
    assert me(civic, ann_token)["email_confirmed"] is True
    assert civic.post("/accounts/confirmations", json={"token": token}).status_code == 204
    error_of(civic.post("/me/confirmation-email", token=ann_token), 409, "conflict")

    # Bo clicks the link in his mail program: a page, and he is confirmed too.
    _, bo_link_token = link_of(to_bo)
    page = civic.get(
        f"/accounts/confirmations/{bo_link_token}",
        headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"},
    )
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "Din e-postadress är bekräftad" in page.text
    assert me(civic, bo_token)["email_confirmed"] is True
    as_json = civic.get(f"/accounts/confirmations/{bo_link_token}")
    assert as_json.status_code == 200 and as_json.json() == {"email_confirmed": True}

    # Neither is a notification in the inbox.
    for token_ in (ann_token, bo_token):
        assert civic.get("/notifications", token=token_).json()["total"] == 0
    # No log line holds a token or an address.
    logs = "\n".join(
        path.read_text() for path in Path(civic_settings["CIVIC_LOG_DIR"]).glob("*.log")
    )
    assert "accounts/confirmations/[redacted]" in logs
    for secret in (token, bo_link_token, ann["email"], bo["email"]):
        assert secret not in logs


def test_expired_forged_and_erased_links_are_400(api):
    account, token = api.resident("Late")
    expired = signing.email_confirmation_token(account["id"], utcnow() - timedelta(seconds=1))
    error = error_of(
        api.post("/accounts/confirmations", json={"token": expired}), 400, "validation_error"
    )
    assert "expired" in error["message"] and error["fields"] == {"token": ["Expired."]}
    page = api.get(f"/accounts/confirmations/{expired}", headers={"Accept": "text/html"})
    assert page.status_code == 400 and "Länken har gått ut" in page.text
    error_of(api.get(f"/accounts/confirmations/{expired}"), 400, "validation_error")

    valid = signing.email_confirmation_token(account["id"], utcnow() + timedelta(hours=1))
    for forged in (
        valid[:-2] + "xx",
        "not-a-token",
        "x" * 301,
        email.unsubscribe_token(account["id"]),
    ):
        error_of(
            api.post("/accounts/confirmations", json={"token": forged}), 400, "validation_error"
        )
    error_of(api.post("/accounts/confirmations", json={}), 400, "validation_error")
    assert api.get("/me", token=token).json()["email_confirmed"] is False

    assert api.delete("/me", token=token).status_code == 202
    error_of(api.post("/accounts/confirmations", json={"token": valid}), 400, "validation_error")


def test_a_new_link_on_request_even_with_email_off_and_not_too_often(civic, smtp):
    account, token = register(civic, "Cia", "sv")
    mail_to(smtp, account["email"])
    off = civic.request("PUT", "/me/preferences", token=token, json={"email": "off"})
    assert off.status_code == 200, off.text
    error_of(civic.post("/me/confirmation-email"), 401, "unauthenticated")

    again = civic.post("/me/confirmation-email", token=token)
    assert again.status_code == 202, again.text
    assert again.json() == {"status": "confirmation_email_requested"}
    first, second = mail_to(smtp, account["email"], count=2)
    assert second["Subject"] == "Bekräfta din e-postadress för Civic"
    assert civic.get("/notifications", token=token).json()["total"] == 0
    # Three new links an hour at most.
    for _ in range(2):
        assert civic.post("/me/confirmation-email", token=token).status_code == 202
    limited = civic.post("/me/confirmation-email", token=token)
    error_of(limited, 429, "rate_limited")
    assert int(limited.headers["Retry-After"]) > 0
    # Any of the links confirms (the first one has not expired either).
    _, first_token = link_of(first)
    assert civic.post("/accounts/confirmations", json={"token": first_token}).status_code == 204


def test_after_the_grace_period_writes_wait_for_confirmation(start_services, make_staff):
    with nameko_config.patch({"CIVIC_CONFIRMATION_GRACE": 0}, clear=False):
        api = start_services(GatewayService, GroupsService)
    account, token = api.resident("Unconfirmed")
    group_body = {"name": f"Club {account['id'][:8]}", "kind": "working_group"}

    refused = api.post("/groups", token=token, json=group_body)
    error = error_of(refused, 403, "email_unconfirmed")
    assert "/api/v1/me/confirmation-email" in error["message"]
    # Reads go on; asking for a new link is a write that is allowed.
    assert api.get("/me", token=token).status_code == 200
    assert api.get("/groups", token=token).status_code == 200
    assert api.post("/me/confirmation-email", token=token).status_code == 202
    # Confirmed accounts (staff from the command line are) write as before.
    staff_token = api.sign_in(make_staff())
    assert new_group(api, staff_token, "Staff club")

    link = signing.email_confirmation_token(account["id"], utcnow() + timedelta(hours=1))
    assert api.post("/accounts/confirmations", json={"token": link}).status_code == 204
    # At once, though this gateway had the account's token cached as unconfirmed.
    created = api.post("/groups", token=token, json=group_body)
    assert created.status_code == 201, created.text
    assert api.delete("/sessions/current", token=token).status_code == 204


def test_within_the_grace_period_an_unconfirmed_account_writes(api):
    _, token = api.resident("New")
    assert api.get("/me", token=token).json()["email_confirmed"] is False
    assert new_group(api, token, "Fresh club")


def test_sign_out_and_erasure_are_never_held_up(start_services):
    with nameko_config.patch({"CIVIC_CONFIRMATION_GRACE": 0}, clear=False):
        api = start_services(GatewayService, GroupsService)
    _, first = api.resident("Leaving")
    assert api.delete("/sessions/current", token=first).status_code == 204
    account, second = api.resident("Erasing")
    assert api.delete("/me", token=second).status_code == 202
