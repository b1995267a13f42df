"""The staff console's home, health and dead-letter screens, in a real browser against
the running platform.

A dead letter is made by a real handler of the platform: the notifications service's
`on_event` (every event goes into the staff activity feed) is given an `email_confirmed`
envelope, published straight to its queue, while a trigger in its database refuses the
activity row of that envelope's correlation id — a fault the test then fixes by dropping
the trigger. The handler fails on every attempt (CIVIC_RETRY_DELAYS is `0.5,1,2` in the
harness), lands in `civic.dead-letters`, and the screens must show it within 5 s of its
last failure; replayed from the screen once the fault is gone, it is handled once: its
entry is in the activity feed once, and the gateway logged one replay of it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import uuid
from datetime import datetime
from pathlib import Path

import amqp
import pytest
from kombu import Connection
from playwright.sync_api import expect

from civic.contracts import new_envelope
from civic.messaging import all_events_queue_name, retry_delays
from civic.outbox import context_headers
from tests.browser.harness import LANGUAGES, wait_until
from tests.browser.words import new_account, sv, sv_plural

HANDLER_QUEUE = all_events_queue_name("notifications", "on_event")
HANDLER = "notifications.on_event"
SHOTS = os.environ.get("CIVIC_STAFF_SHOTS")  # a directory: screenshots to look at
# The dead letter must be on the screens within this many seconds of its last failure.
VISIBLE_WITHIN = 5.0
ATTEMPTS = 1 + len("0.5,1,2".split(","))


def shot(page, name: str, full_page: bool = True) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=full_page)


# --- the fault: the activity row of one correlation id is refused ---------------------


class ActivityFault:
    """A trigger in the notifications service's (SQLite) database that refuses the
    activity row of envelopes with correlation ids starting with `prefix`."""

    def __init__(self, site, prefix: str):
        self.path = Path(site.var_dir) / "notifications.db"
        if not self.path.exists():
            pytest.skip("the platform's notifications database is not SQLite")
        self.prefix = prefix
        self.name = "staff_ops_fault_" + uuid.uuid4().hex[:8]

    def _run(self, sql: str) -> None:
        connection = sqlite3.connect(self.path, timeout=15)
        try:
            connection.execute(sql)
            connection.commit()
        finally:
            connection.close()

    def __enter__(self):
        assert self.prefix.replace("-", "").isalnum()  # it goes into the DDL as is
        self._run(
            f"CREATE TRIGGER {self.name} BEFORE INSERT ON activity "
            f"WHEN NEW.correlation_id LIKE '{self.prefix}%' "
            "BEGIN SELECT RAISE(ABORT, 'staff-ops test: this activity row is refused'); END"
        )
        return self

    def fix(self) -> None:
        self._run(f"DROP TRIGGER IF EXISTS {self.name}")

    def __exit__(self, *exc_info):
        self.fix()
        return False


def publish_to_handler(site, correlation_id: str) -> dict:
    """An `email_confirmed` of a made-up account, straight to notifications.on_event's
    queue (only that handler gets it), as the outbox relay publishes events."""
    envelope = new_envelope(
        "email_confirmed",
        {"account_id": str(uuid.uuid4())},
        producer="groups",
        correlation_id=correlation_id,
    ).to_dict()
    with Connection(
        site.vhost.amqp_uri, connect_timeout=5, transport_options={"confirm_publish": True}
    ) as connection:
        connection.default_channel.basic_publish(
            amqp.Message(
                json.dumps(envelope).encode("utf-8"),
                content_type="application/json",
                content_encoding="utf-8",
                delivery_mode=2,
                message_id=envelope["id"],
                application_headers=context_headers(envelope),
            ),
            exchange="",
            routing_key=HANDLER_QUEUE,
        )
    return envelope


def dead_letter(site, token: str, message_id: str, attempts: int | None = ATTEMPTS):
    """The dead letter of `message_id` once it has failed `attempts` times, else None."""
    for item in site.api.items("/staff/dead-letters", token=token, per_page=100):
        if item["id"] == message_id and (attempts is None or item["attempts"] == attempts):
            return item
    return None


def activity_entries(site, token: str, message_id: str) -> int:
    items = site.api.items("/staff/activity", token=token, type="email_confirmed", per_page=100)
    return sum(1 for item in items if item["id"] == message_id)


def replay_log_lines(site, message_id: str) -> int:
    """How many times the gateway logged replaying this dead letter."""
    count = 0
    for path in (Path(site.var_dir) / "log").glob("gateway*.log"):
        for line in path.read_text(errors="replace").splitlines():
            if '"dead_letter_replayed"' in line and message_id in line:
                count += 1
    return count


def seconds_since(iso_moment: str) -> float:
    return time.time() - datetime.fromisoformat(iso_moment).timestamp()


def dead_letter_card(page, message_id: str):
    return page.locator(".staff-dead-letter").filter(has_text=message_id)


# --- the acceptance check ---------------------------------------------------------------


def test_a_dead_letter_is_on_both_screens_at_once_and_replaying_it_handles_it_once(
    site, new_context, check_accessibility
):
    assert retry_delays  # the harness runs the platform with CIVIC_RETRY_DELAYS=0.5,1,2
    assert site.env["CIVIC_RETRY_DELAYS"] == "0.5,1,2"
    token = site.api.sign_in("staff")
    prefix = "staff-ops-" + uuid.uuid4().hex[:10]
    page = new_context("sv", role="staff").new_page()

    with ActivityFault(site, prefix) as fault:
        envelope = publish_to_handler(site, prefix + "-one")
        found = wait_until(
            lambda: dead_letter(site, token, envelope["id"]),
            timeout=30,
            message="the envelope dead-lettered after every attempt",
            interval=0.1,
        )
        # The health screen: the dead letter counted, in red, first among what is wrong.
        page.goto(site.url("/staff/health"))
        expect(page.locator("h1")).to_have_text(sv("Health"))
        count = int(page.locator("#dead-letter-count").inner_text())
        assert count >= 1
        expect(page.locator("ul.staff-problems")).to_contain_text(
            sv_plural(
                "%(num)s dead letter waits: a message no handler could handle.",
                "%(num)s dead letters wait: messages no handler could handle.",
                count,
            )
        )
        health_seen = seconds_since(found["failed_at"])
        # The dead-letter screen: handler, error, attempts, failures, a link to the trace.
        page.goto(site.url("/staff/dead-letters"))
        card = dead_letter_card(page, envelope["id"])
        expect(card).to_contain_text(HANDLER)
        expect(card).to_contain_text(HANDLER_QUEUE)
        expect(card.locator("dd").nth(2)).to_have_text(str(ATTEMPTS))
        expect(card.get_by_role("link", name=sv("The request's trace"))).to_have_attribute(
            "href", f"/staff/trace/{prefix}-one"
        )
        expect(card.locator("pre.staff-error")).to_contain_text("this activity row is refused")
        list_seen = seconds_since(found["failed_at"])
        assert health_seen < VISIBLE_WITHIN, health_seen
        assert list_seen < VISIBLE_WITHIN, list_seen
        shot(page, "staff-dead-letters-one")
        check_accessibility(page, "staff dead letters, one waiting (sv)")
        page.goto(site.url("/staff/health?refresh=off"))
        shot(page, "staff-health-dead-letter", full_page=False)
        check_accessibility(page, "staff health, a dead letter waiting (sv)")
        page.goto(site.url("/staff/"))
        expect(page.locator("ul.staff-problems")).to_contain_text(
            sv_plural(
                "%(num)s dead letter waits: a message no handler could handle.",
                "%(num)s dead letters wait: messages no handler could handle.",
                count,
            )
        )
        shot(page, "staff-home-dead-letter")
        check_accessibility(page, "staff console home, a dead letter waiting (sv)")
        page.goto(site.url("/staff/dead-letters"))
        assert activity_entries(site, token, envelope["id"]) == 0

        # Fixed; replayed from the screen: handled, once.
        fault.fix()
        card.get_by_role("button", name=sv("Replay")).click()
        expect(page.locator(".notice")).to_contain_text(
            sv(
                "The dead letter was sent back to %(queue)s. If its handler fails again, "
                "it comes back here.",
                queue=HANDLER_QUEUE,
            )
        )
        wait_until(
            lambda: activity_entries(site, token, envelope["id"]) == 1,
            timeout=15,
            message="the replayed envelope handled",
        )
    page.reload()
    expect(dead_letter_card(page, envelope["id"])).to_have_count(0)
    assert dead_letter(site, token, envelope["id"], attempts=None) is None
    assert activity_entries(site, token, envelope["id"]) == 1
    assert replay_log_lines(site, envelope["id"]) == 1


def test_a_replay_form_sent_twice_replays_once_and_all_of_a_handler_replay_after_a_fix(
    site, new_context, check_accessibility
):
    token = site.api.sign_in("staff")
    prefix = "staff-ops-" + uuid.uuid4().hex[:10]
    page = new_context("en", role="staff").new_page()

    with ActivityFault(site, prefix) as fault:
        first = publish_to_handler(site, prefix + "-a")
        second = publish_to_handler(site, prefix + "-b")
        for envelope in (first, second):
            wait_until(
                lambda envelope=envelope: dead_letter(site, token, envelope["id"]),
                timeout=30,
                message="dead-lettered",
            )
        page.goto(site.url("/staff/dead-letters"))
        check_accessibility(page, "staff dead letters, two waiting (en)")
        form = dead_letter_card(page, first["id"]).locator("form")
        fields = {
            name: form.locator(f"input[name={name}]").get_attribute("value")
            for name in ("csrf_token", "form_key")
        }
        action = form.get_attribute("action")

        # Replayed while the handler still fails: it comes back after its attempts …
        dead_letter_card(page, first["id"]).get_by_role("button", name="Replay").click()
        expect(page.locator(".notice")).to_contain_text("The dead letter was sent back")
        wait_until(
            lambda: (
                replay_log_lines(site, first["id"]) == 1 and dead_letter(site, token, first["id"])
            ),
            timeout=30,
            message="the replayed dead letter failed again and came back",
        )
        # … and the same form sent again (back, submit again) replays nothing.
        again = page.request.post(site.url(action), form=fields, max_redirects=0)
        assert again.status == 303
        assert again.headers["location"] == "/staff/dead-letters"
        assert replay_log_lines(site, first["id"]) == 1

        # Fixed: all of the handler's dead letters replayed, after a confirmation.
        fault.fix()
        page.goto(site.url("/staff/dead-letters"))
        page.get_by_role("link", name=f"Replay all of {HANDLER}…").click()
        expect(page.locator("h1")).to_have_text("Replay the dead letters of a handler")
        waiting = int(page.locator("[data-count]").get_attribute("data-count"))
        assert waiting >= 2
        expect(page.locator(".staff-confirm-count")).to_contain_text(
            f"{waiting} dead letters will be sent back to this queue"
        )
        shot(page, "staff-dead-letters-replay-all-en")
        check_accessibility(page, "staff replay all, confirmation (en)")
        confirm = page.get_by_role("button", name=f"Replay {waiting} dead letters")
        confirm_form = page.locator("form[action='/staff/dead-letters/replay-all']")
        all_fields = {
            name: confirm_form.locator(f"input[name={name}]").get_attribute("value")
            for name in ("csrf_token", "form_key", "queue")
        }
        confirm.click()
        expect(page.locator(".notice")).to_contain_text(
            f"{waiting} dead letters were sent back to {HANDLER_QUEUE}."
        )
        # The confirmation sent twice replays once.
        twice = page.request.post(
            site.url("/staff/dead-letters/replay-all"), form=all_fields, max_redirects=0
        )
        assert twice.status == 303
        for envelope in (first, second):
            wait_until(
                lambda envelope=envelope: activity_entries(site, token, envelope["id"]) == 1,
                timeout=15,
                message="replayed and handled",
            )
    assert dead_letter(site, token, first["id"], attempts=None) is None
    assert dead_letter(site, token, second["id"], attempts=None) is None
    assert replay_log_lines(site, first["id"]) == 2  # the single one, then the one of all
    assert replay_log_lines(site, second["id"]) == 1
    assert activity_entries(site, token, first["id"]) == 1
    assert activity_entries(site, token, second["id"]) == 1


# --- who may see them, and accessibility ------------------------------------------------

SCREENS = (
    "/staff/",
    "/staff/health",
    "/staff/dead-letters",
    f"/staff/dead-letters/replay-all?queue={HANDLER_QUEUE}",
)


def test_a_resident_is_refused_every_operations_screen(site, new_context):
    resident = new_account(site, "Nyfiken")
    page = new_context("sv").new_page()
    page.context.add_cookies(
        [{"name": "civic_session", "value": resident["token"], "url": site.base_url}]
    )
    for path in SCREENS:
        answer = page.goto(site.url(path))
        assert answer.status == 403, (path, answer.status)
        expect(page.locator("h1")).to_have_text(sv("Not allowed"))
    # A replay posted by a resident changes nothing either.
    page.goto(site.url("/"))
    refused = page.request.post(
        site.url("/staff/dead-letters/replay-all"),
        form={"queue": HANDLER_QUEUE, "csrf_token": "x", "form_key": "y"},
        max_redirects=0,
    )
    assert refused.status == 403
    # The API's replay of a handler's dead letters: staff only, validated.
    site.api.post(
        "/staff/dead-letters/replay", {"queue": HANDLER_QUEUE}, token=resident["token"], expect=403
    )
    staff_token = site.api.sign_in("staff")
    nothing = site.api.post(
        "/staff/dead-letters/replay",
        {"queue": "evt-nobody--none.none"},
        token=staff_token,
        expect=200,
    )
    assert nothing == {"queue": "evt-nobody--none.none", "replayed": 0}
    site.api.post("/staff/dead-letters/replay", {"queue": ""}, token=staff_token, expect=400)


def test_a_signed_out_visitor_is_sent_to_sign_in(site, new_context):
    page = new_context("sv").new_page()
    page.goto(site.url("/staff/health"))
    assert "/signin" in page.url


def test_the_health_screen_refreshes_itself_unless_told_not_to(site, new_context):
    page = new_context("en", role="staff").new_page()
    answer = page.goto(site.url("/staff/health"))
    assert answer.headers.get("refresh") == "10"
    expect(page.locator(".staff-refresh")).to_contain_text("refreshes itself every 10 seconds")
    # Every domain service listed, with its queues (the management API answers here).
    for service in ("groups", "proposals", "events", "openings", "notifications"):
        section = page.locator(f"#service-{service}")
        expect(section.locator("h2")).to_contain_text(service)
        expect(section.locator("table.staff-queues")).to_contain_text(f"rpc-{service}")
    page.get_by_role("link", name="Stop refreshing").click()
    answer = page.reload()
    assert "refresh" not in answer.headers
    expect(page.locator(".staff-refresh")).to_contain_text("does not refresh itself")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_operations_screens_are_accessible(lang, site, new_context, check_accessibility):
    page = new_context(lang, role="staff").new_page()
    for path in SCREENS:
        page.goto(site.url(path if path != "/staff/health" else "/staff/health?refresh=off"))
        check_accessibility(page, f"staff ops {path} ({lang})")
        name = path.strip("/").split("?")[0].replace("/", "-") or "staff"
        shot(page, f"{name}-{lang}")
