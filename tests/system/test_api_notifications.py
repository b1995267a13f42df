"""Every Notifications route of API.md (and GET /staff/activity), through the gateway,
with the groups and notifications services running and a real SMTP server."""

from __future__ import annotations

import re
import uuid
from urllib.parse import urlsplit

import pytest

from civic.db import ServiceDatabase
from services.notifications.models import Email, Follow, Notification, Preference, metadata
from tests.conftest import wait_for
from tests.integration.notifications_support import without_confirmations
from tests.support import count
from tests.system.conftest import error_of, new_group


@pytest.fixture
def civic(mailing_platform):
    return mailing_platform


@pytest.fixture
def notifications_db(civic):
    database = ServiceDatabase("notifications", metadata)
    yield database
    database.dispose()


def inbox(client, token, **params):
    response = client.get("/notifications", token=token, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def closed_group_with_request(client, admin_token, asker_token, name="Closed"):
    group = new_group(client, admin_token, name, kind="association", open=False)
    joined = client.post(f"/groups/{group['id']}/members", token=asker_token)
    assert joined.status_code == 202, joined.text
    return group


def wait_for_inbox(client, token, total, message="notifications"):
    return wait_for(
        lambda: (lambda found: found if found["total"] >= total else None)(inbox(client, token)),
        message=message,
    )


# --- the inbox ------------------------------------------------------------------------------


def test_the_inbox_read_and_read_all(civic):
    admin, admin_token = civic.resident("Admin")
    _, asker_token = civic.resident("Asker")
    _, stranger_token = civic.resident("Stranger")
    error_of(civic.get("/notifications"), 401, "unauthenticated")

    groups = [
        closed_group_with_request(civic, admin_token, asker_token, f"Club {n}") for n in range(3)
    ]
    found = wait_for_inbox(civic, admin_token, 3, "three join requests")
    assert found["total"] == 3 and found["unread_count"] == 3
    assert (found["page"], found["per_page"]) == (1, 20)
    newest = found["items"][0]
    assert set(newest) == {
        "id",
        "kind",
        "title",
        "body",
        "link",
        "target_type",
        "target_id",
        "created_at",
        "read_at",
    }
    assert newest["kind"] == "join_requested" and newest["read_at"] is None
    assert {item["target_id"] for item in found["items"]} == {g["id"] for g in groups}
    assert newest["link"] == f"/groups/{newest['target_id']}"
    assert newest["title"].startswith("Ny ansökan om medlemskap i ")  # Swedish by default

    read = civic.post(f"/notifications/{newest['id']}/read", token=admin_token)
    assert read.status_code == 200, read.text
    assert read.json()["id"] == newest["id"] and read.json()["read_at"]
    error_of(
        civic.post(f"/notifications/{newest['id']}/read", token=stranger_token), 404, "not_found"
    )
    error_of(
        civic.post(f"/notifications/{newest['id']}/read", token=admin_token, json={"extra": 1}),
        400,
        "validation_error",
    )
    unread = inbox(civic, admin_token, unread="true")
    assert unread["total"] == 2 and unread["unread_count"] == 2
    assert newest["id"] not in {item["id"] for item in unread["items"]}
    error_of(
        civic.get("/notifications", token=admin_token, params={"unread": "maybe"}),
        400,
        "validation_error",
    )
    paged = inbox(civic, admin_token, per_page=1, page=3)
    assert len(paged["items"]) == 1 and paged["total"] == 3

    all_read = civic.post("/notifications/read-all", token=admin_token)
    assert all_read.status_code == 200, all_read.text
    assert all_read.json() == {"marked": 2, "unread_count": 0}
    assert inbox(civic, admin_token)["unread_count"] == 0
    assert inbox(civic, stranger_token)["total"] == 0
    assert admin["id"]


# --- preferences and follows -------------------------------------------------------------


def test_preferences(civic):
    _, token = civic.resident("Chooser")
    error_of(civic.get("/me/preferences"), 401, "unauthenticated")
    assert civic.get("/me/preferences", token=token).json() == {"email": "daily", "muted_kinds": []}
    put = civic.request(
        "PUT",
        "/me/preferences",
        token=token,
        json={"email": "weekly", "muted_kinds": ["comment_added"]},
    )
    assert put.status_code == 200, put.text
    assert put.json() == {"email": "weekly", "muted_kinds": ["comment_added"]}
    for bad in (
        {"email": "hourly"},
        {"muted_kinds": ["no_such_kind"]},
        {},
        {"email": "off", "sms": True},
    ):
        error_of(
            civic.request("PUT", "/me/preferences", token=token, json=bad), 400, "validation_error"
        )
    assert civic.get("/me/preferences", token=token).json()["email"] == "weekly"
    muted_only = civic.request("PUT", "/me/preferences", token=token, json={"muted_kinds": []})
    assert muted_only.json() == {"email": "weekly", "muted_kinds": []}


def test_follow_and_unfollow(civic, notifications_db):
    admin, admin_token = civic.resident("Admin")
    follower, follower_token = civic.resident("Follower")
    group = new_group(civic, admin_token, "Open club", kind="working_group")
    error_of(
        civic.post("/follows", json={"target_type": "group", "target_id": group["id"]}),
        401,
        "unauthenticated",
    )

    def follow():
        response = civic.post(
            "/follows",
            token=follower_token,
            json={"target_type": "group", "target_id": group["id"]},
        )
        return response if response.status_code != 404 else None

    made = wait_for(follow, message="the group known to notifications")
    assert made.status_code == 201, made.text
    assert made.json()["target_id"] == group["id"] and made.json()["automatic"] is False
    assert made.json()["title"] == group["name"]
    error_of(
        civic.post(
            "/follows",
            token=follower_token,
            json={"target_type": "group", "target_id": group["id"]},
        ),
        409,
        "conflict",
    )
    error_of(
        civic.post(
            "/follows",
            token=follower_token,
            json={"target_type": "group", "target_id": str(uuid.uuid4())},
        ),
        404,
        "not_found",
    )
    error_of(
        civic.post(
            "/follows",
            token=follower_token,
            json={"target_type": "opening", "target_id": group["id"]},
        ),
        400,
        "validation_error",
    )
    listed = civic.get("/follows", token=follower_token).json()
    assert [(f["target_type"], f["target_id"]) for f in listed["items"]] == [("group", group["id"])]
    # The admin follows their group automatically.
    admin_follows = wait_for(
        lambda: civic.get("/follows", token=admin_token).json()["items"],
        message="the admin's automatic follow",
    )
    assert admin_follows[0]["automatic"] is True

    gone = civic.delete(f"/follows/group/{group['id']}", token=follower_token)
    assert gone.status_code == 204, gone.text
    error_of(civic.delete(f"/follows/group/{group['id']}", token=follower_token), 404, "not_found")
    error_of(
        civic.delete(f"/follows/planet/{group['id']}", token=follower_token),
        400,
        "validation_error",
    )
    assert count(notifications_db, Follow, Follow.account_id == follower["id"]) == 0
    assert admin["id"]


# --- email ----------------------------------------------------------------------------------


def test_an_immediate_email_with_a_working_unsubscribe_link_and_off_sends_nothing(
    civic, smtp, notifications_db
):
    eager, eager_token = civic.resident("Eager")
    quiet, quiet_token = civic.resident("Quiet")
    _, asker_token = civic.resident("Asker")
    for token, mode in ((eager_token, "immediate"), (quiet_token, "off")):
        response = civic.request("PUT", "/me/preferences", token=token, json={"email": mode})
        assert response.status_code == 200, response.text

    closed_group_with_request(civic, quiet_token, asker_token, "Quiet club")
    wait_for_inbox(civic, quiet_token, 1, "the quiet admin's notification")
    group = closed_group_with_request(civic, eager_token, asker_token, "Eager club")
    wait_for(lambda: without_confirmations(smtp.messages()), timeout=30, message="the email")

    (message,) = without_confirmations(smtp.messages())
    assert message["To"] == eager["email"]
    assert message["Subject"] == f"Ny ansökan om medlemskap i {group['name']}"
    body = message.get_content()
    assert f"/groups/{group['id']}" in body
    # Mail clients get the API's one-click link; the footer, the site's page that asks
    # first, in the account's language.
    link = message["List-Unsubscribe"].removeprefix("<").removesuffix(">")
    assert urlsplit(link).path.startswith("/api/v1/unsubscribe/")
    token = urlsplit(link).path.rpartition("/")[2]
    assert re.search(rf"\S+/unsubscribe/{re.escape(token)}\?lang=sv\b", body)
    assert "/api/v1/unsubscribe/" not in body
    # `off` sent nothing: its notification is in the inbox, with no email queued for it
    # (but the confirmation of its address, which is not a notification).
    assert (
        count(
            notifications_db, Email, Email.account_id == quiet["id"], Email.kind != "confirmation"
        )
        == 0
    )
    assert count(notifications_db, Notification, Notification.account_id == quiet["id"]) == 1

    # Follow the link through the gateway, signed out: email is off.
    path = urlsplit(link).path.removeprefix("/api/v1")
    unsubscribed = civic.get(path)
    assert unsubscribed.status_code == 200, unsubscribed.text
    assert unsubscribed.json() == {"email": "off"}
    assert civic.get("/me/preferences", token=eager_token).json()["email"] == "off"
    page = civic.get(path, headers={"Accept": "text/html,*/*;q=0.8"})
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "Email turned off" in page.text
    one_click = civic.post(
        path,
        data="List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert one_click.status_code == 200 and one_click.json() == {"email": "off"}
    error_of(civic.get(path[:-3] + "xyz"), 404, "not_found")
    error_of(civic.get("/unsubscribe/not-a-token"), 404, "not_found")


# --- staff and erasure ----------------------------------------------------------------------


def test_staff_activity(civic, make_staff):
    _, resident_token = civic.resident("Resident")
    staff_token = civic.sign_in(make_staff())
    error_of(civic.get("/staff/activity"), 401, "unauthenticated")
    error_of(civic.get("/staff/activity", token=resident_token), 403, "forbidden")
    group = new_group(civic, resident_token, "Audited", kind="working_group")

    def created():
        found = civic.get(
            "/staff/activity", token=staff_token, params={"type": "group_created"}
        ).json()
        return found["items"] if found["total"] else None

    (entry,) = wait_for(created, message="group_created in the feed")
    assert set(entry) == {
        "id",
        "type",
        "actor_id",
        "occurred_at",
        "correlation_id",
        "subject_type",
        "subject_id",
        "summary",
    }
    assert (entry["subject_type"], entry["subject_id"]) == ("group", group["id"])
    assert entry["summary"] == f"Group created: “{group['name']}”"
    everything = civic.get("/staff/activity", token=staff_token).json()
    assert {"account_registered", "group_created", "member_joined"} <= {
        item["type"] for item in everything["items"]
    }
    since = civic.get(
        "/staff/activity", token=staff_token, params={"since": entry["occurred_at"]}
    ).json()
    assert all(item["occurred_at"] >= entry["occurred_at"] for item in since["items"])
    assert entry["id"] in {item["id"] for item in since["items"]}
    error_of(
        civic.get("/staff/activity", token=staff_token, params={"type": "nope"}),
        400,
        "validation_error",
    )
    error_of(
        civic.get("/staff/activity", token=staff_token, params={"since": "yesterday"}),
        400,
        "validation_error",
    )


def test_erasing_the_account_deletes_its_inbox_follows_and_preferences(civic, notifications_db):
    admin, admin_token = civic.resident("Leaving Admin")
    _, asker_token = civic.resident("Asker")
    civic.request("PUT", "/me/preferences", token=admin_token, json={"email": "weekly"})
    closed_group_with_request(civic, admin_token, asker_token, "Leaving club")
    wait_for_inbox(civic, admin_token, 1)
    exported = civic.get("/me/export", token=admin_token).json()["notifications"]
    assert exported["preferences"]["email"] == "weekly"
    assert len(exported["notifications"]) == 1 and exported["follows"]

    assert civic.delete("/me", token=admin_token).status_code == 202

    def erased():
        return (
            sum(
                count(notifications_db, model, model.account_id == admin["id"])
                for model in (Notification, Follow, Preference)
            )
            == 0
        )

    wait_for(erased, message="the account's data deleted")
