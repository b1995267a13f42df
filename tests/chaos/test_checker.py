"""The chaos checker's counting rules (checker.py's docstring), on small hand-made
histories and final states: pure functions, no platform, no broker."""

from __future__ import annotations

from email.utils import make_msgid

import pytest

from tests.chaos.checker import Counts, State, count, replay, row_id_of
from tests.chaos.history import ADD, NONE, REMOVE, History, Operation, outcome_of

TAG = "chaos-7-abc123"
START = 1_000_000.0
ME, OTHER, AUTHOR = "acc-me", "acc-other", "acc-author"
PROPOSAL, EVENT, GROUP = "prop-1", "event-1", "group-1"


def op(effect, action=ADD, status=201, at=0.0, client=0, kind="test", correlation_id=None):
    return Operation(
        client=client,
        kind=kind,
        method="POST" if action == ADD else "DELETE",
        path="/x",
        actor_id=ME,
        effect=effect,
        action=action,
        correlation_id=correlation_id,
        started_at=START + at,
        ended_at=START + at + 0.1,
        status=status,
        outcome=outcome_of(status),
    )


def history(*operations, accounts=None):
    return History(
        tag=TAG,
        started_at=START,
        ended_at=START + 60,
        operations=list(operations),
        accounts=accounts if accounts is not None else {ME: "me@chaos.example"},
    )


def support(account=ME, proposal=PROPOSAL):
    return {"proposal_id": proposal, "account_id": account}


def only(counts: Counts, kind: str) -> dict:
    """The four counts of one kind, and that every other kind counted nothing."""
    for name, other in counts.kinds.items():
        if name != kind:
            assert (other.lost, other.recovered, other.unexpected, other.duplicated) == (
                0,
                0,
                0,
                0,
            ), (name, other.examples)
    found = counts[kind]
    return {
        "lost": found.lost,
        "recovered": found.recovered,
        "unexpected": found.unexpected,
        "duplicated": found.duplicated,
    }


def counted(lost=0, recovered=0, unexpected=0, duplicated=0):
    return {
        "lost": lost,
        "recovered": recovered,
        "unexpected": unexpected,
        "duplicated": duplicated,
    }


# --- the history --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "outcome"),
    [(200, "ok"), (201, "ok"), (204, "ok"), (400, "failed"), (409, "failed"), (404, "failed")]
    + [(503, "unknown"), (500, "unknown"), (None, "unknown")],
)
def test_outcome_of_a_status(status, outcome):
    assert outcome_of(status) == outcome


def test_history_round_trips_through_its_file(tmp_path):
    saved = history(op(("support", PROPOSAL, ME)), op(("comment", f"{TAG}-c-0-1"), status=None))
    loaded = History.load(saved.save(tmp_path / "round.jsonl"))
    assert loaded.tag == TAG and loaded.accounts == saved.accounts
    assert [o.to_dict() for o in loaded.operations] == [o.to_dict() for o in saved.operations]
    assert loaded.operations[0].effect == ("support", PROPOSAL, ME)
    assert loaded.counts_by_outcome() == {"ok": 1, "failed": 0, "unknown": 1}


# --- replaying the requests about one thing ----------------------------------------------


@pytest.mark.parametrize(
    ("steps", "possible", "baseline"),
    [
        ([(ADD, 201)], {True}, True),
        ([(ADD, 409)], {True}, True),  # "already there" tells it is there
        ([(ADD, 400)], {False}, False),
        ([(ADD, None)], {False, True}, False),
        ([(ADD, 503)], {False, True}, False),
        ([(ADD, 201), (REMOVE, 204)], {False}, False),
        ([(ADD, 201), (REMOVE, None)], {False, True}, True),
        ([(ADD, None), (REMOVE, 204)], {False}, False),
        ([(ADD, None), (REMOVE, 404)], {False}, False),  # "not there" tells it is not
        ([(ADD, 201), (REMOVE, 403)], {True}, True),
    ],
)
def test_replay_knows_what_may_be_there(steps, possible, baseline):
    effect = ("support", PROPOSAL, ME)
    operations = [op(effect, action, status, at=n) for n, (action, status) in enumerate(steps)]
    assert replay(operations)[:2] == (possible, baseline)


# --- resources ----------------------------------------------------------------------------


def test_acknowledged_and_there_counts_nothing():
    counts = count(history(op(("support", PROPOSAL, ME))), State(supports=[support()]))
    assert only(counts, "supports") == counted()
    assert counts["supports"].acknowledged == 1


def test_acknowledged_but_absent_is_lost():
    counts = count(history(op(("support", PROPOSAL, ME))), State())
    assert only(counts, "supports") == counted(lost=1)


def test_unknown_outcome_that_happened_is_recovered():
    counts = count(history(op(("support", PROPOSAL, ME), status=None)), State(supports=[support()]))
    assert only(counts, "supports") == counted(recovered=1)
    assert counts.unknown_operations == 1


def test_unknown_outcome_that_did_not_happen_counts_nothing():
    counts = count(history(op(("support", PROPOSAL, ME), status=503)), State())
    assert only(counts, "supports") == counted()


def test_unknown_removal_that_happened_is_recovered():
    effect = ("registration", EVENT, ME)
    operations = (op(effect), op(effect, REMOVE, None, at=1))
    assert only(count(history(*operations), State()), "registrations") == counted(recovered=1)


def test_refused_but_there_is_unexpected():
    counts = count(history(op(("support", PROPOSAL, ME), status=400)), State(supports=[support()]))
    assert only(counts, "supports") == counted(unexpected=1)


def test_acknowledged_removal_still_there_is_lost():
    effect = ("membership", GROUP, ME)
    operations = (op(effect), op(effect, REMOVE, 204, at=1))
    state = State(
        memberships=[{"group_id": GROUP, "account_id": ME, "role": "member", "status": "active"}]
    )
    assert only(count(history(*operations), state), "memberships") == counted(lost=1)


def test_a_pending_request_is_not_a_membership():
    state = State(
        memberships=[{"group_id": GROUP, "account_id": ME, "role": "member", "status": "pending"}]
    )
    assert only(count(history(op(("membership", GROUP, ME))), state), "memberships") == counted(
        lost=1
    )
    assert only(count(history(op(("join_request", GROUP, ME))), state), "join_requests") == (
        counted()
    )


def test_accounts_groups_and_events_by_their_names():
    email, name, title = f"{TAG}-0@chaos.example", f"{TAG}-g-0-1 club", f"{TAG} event 0"
    requests = (op(("account", email)), op(("group", name)), op(("event", title)))
    state = State(
        accounts={email: ME},
        groups=[{"id": GROUP, "name": name}],
        events=[{"id": EVENT, "title": title, "capacity": 2}],
    )
    counts = count(history(*requests), state)
    assert counts.lost == counts.unexpected == counts.duplicated == 0
    counts = count(history(*requests), State())
    assert [counts[kind].lost for kind in ("accounts", "groups", "events")] == [1, 1, 1]


def test_a_resource_stored_twice_is_duplicated():
    mark = f"{TAG}-p-0-3"
    proposals = [
        {"id": "p1", "title": f"{mark} snow clearing", "support_count": 0},
        {"id": "p2", "title": f"{mark} snow clearing", "support_count": 0},
    ]
    counts = count(history(op(("proposal", mark))), State(proposals=proposals))
    assert only(counts, "proposals") == counted(duplicated=1)


def test_a_mark_is_not_found_inside_a_longer_one():
    mark = f"{TAG}-c-0-1"
    comments = [{"id": "c1", "proposal_id": PROPOSAL, "body": f"Comment {mark}0: yes."}]
    counts = count(history(op(("comment", mark))), State(comments=comments))
    assert counts["comments"].lost == 1
    assert counts["comments"].unexpected == 1  # and -c-0-10 was never requested


def test_a_thing_of_the_round_nobody_asked_for_is_unexpected():
    state = State(
        supports=[support(ME, "prop-2")],
        comments=[{"id": "c9", "proposal_id": PROPOSAL, "body": f"Comment {TAG}-c-9-9: hm"}],
        follows=[
            {"account_id": ME, "target_type": "proposal", "target_id": "p", "source": "manual"},
            {"account_id": ME, "target_type": "group", "target_id": "g", "source": "auto"},
        ],
        # Someone else's support is not the round's business.
        interests=[{"opening_id": "o", "account_id": OTHER}],
    )
    counts = count(history(op(("support", PROPOSAL, ME), status=400)), state)
    assert counts["supports"].unexpected == 1
    assert counts["comments"].unexpected == 1
    assert counts["follows"].unexpected == 1
    assert counts["interests"].unexpected == 0
    assert counts.unexpected == 3


def test_the_admin_membership_of_a_created_group_is_not_unexpected():
    name = f"{TAG}-g-0-1 club"
    state = State(
        groups=[{"id": GROUP, "name": name}],
        memberships=[{"group_id": GROUP, "account_id": ME, "role": "admin", "status": "active"}],
    )
    assert count(history(op(("group", name))), state).unexpected == 0


# --- invariants ---------------------------------------------------------------------------


def registrations(*rows):
    return [
        {"event_id": EVENT, "account_id": f"a{n}", "status": status, "position": position}
        for n, (status, position) in enumerate(rows)
    ]


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([("confirmed", None), ("confirmed", None), ("waitlisted", 1)], counted()),
        ([("confirmed", None)] * 3, counted(duplicated=1)),  # beyond the capacity
        ([("confirmed", None)] * 2 + [("waitlisted", 1)] * 2, counted(duplicated=1)),
        ([("confirmed", None)] * 2 + [("waitlisted", 1), ("waitlisted", 3)], counted(lost=1)),
        ([("confirmed", None), ("waitlisted", 1)], counted(lost=1)),  # a place left free
    ],
)
def test_waiting_lists(rows, expected):
    state = State(
        events=[{"id": EVENT, "title": f"{TAG} event 0", "capacity": 2}],
        registrations=registrations(*rows),
        registration_copies=[
            {"event_id": EVENT, "account_id": row["account_id"], "status": row["status"]}
            for row in registrations(*rows)
        ],
    )
    assert only(count(history(op(("event", f"{TAG} event 0"))), state), "waiting_lists") == (
        expected
    )


def test_support_count_against_the_support_rows():
    state = State(
        proposals=[{"id": PROPOSAL, "title": "Demo", "support_count": 3}],
        supports=[support(ME), support(OTHER)],
    )
    counts = count(history(op(("support", PROPOSAL, ME))), state)
    assert only(counts, "support_counts") == counted(duplicated=1)
    state.proposals[0]["support_count"] = 1
    assert only(count(history(op(("support", PROPOSAL, ME))), state), "support_counts") == (
        counted(lost=1)
    )


# --- read models --------------------------------------------------------------------------


def test_read_model_copies_against_groups():
    truth = [
        {"group_id": GROUP, "account_id": ME, "role": "member", "status": "active"},
        {"group_id": "group-2", "account_id": ME, "role": "admin", "status": "active"},
    ]
    copies = {
        # Right.
        "proposals": [
            {"group_id": GROUP, "account_id": ME, "role": "member", "active": True},
            {"group_id": "group-2", "account_id": ME, "role": "admin", "active": True},
        ],
        # One missing, one held inactive: two lost.
        "events": [{"group_id": GROUP, "account_id": ME, "role": "member", "active": False}],
        # Another role: unexpected.
        "openings": [
            {"group_id": GROUP, "account_id": ME, "role": "admin", "active": True},
            {"group_id": "group-2", "account_id": ME, "role": "admin", "active": True},
        ],
        # A ghost (left, or never joined) and someone outside the round (not compared).
        "notifications": [
            {"group_id": GROUP, "account_id": ME, "role": "member"},
            {"group_id": "group-2", "account_id": ME, "role": "admin"},
            {"group_id": "group-3", "account_id": ME, "role": "admin"},
            {"group_id": "group-3", "account_id": OTHER, "role": "admin"},
        ],
    }
    state = State(memberships=truth, copies=copies)
    effects = [op(("membership", GROUP, ME)), op(("membership", "group-2", ME))]
    assert only(count(history(*effects), state), "read_models") == counted(lost=2, unexpected=2)


def test_registration_copy_in_notifications():
    state = State(
        events=[{"id": EVENT, "title": f"{TAG} event 0", "capacity": None}],
        registrations=[
            {"event_id": EVENT, "account_id": ME, "status": "confirmed", "position": None}
        ],
        registration_copies=[{"event_id": EVENT, "account_id": ME, "status": "waitlisted"}],
    )
    made = op(("event", f"{TAG} event 0"))
    counts = count(history(made, op(("registration", EVENT, ME))), state)
    assert only(counts, "read_models") == counted(unexpected=1)


# --- what the API shows ---


def test_the_api_view_against_the_stored_rows():
    state = State(
        proposals=[{"id": PROPOSAL, "title": "Demo", "support_count": 1}],
        supports=[support(ME)],
        comments=[{"id": "c1", "proposal_id": PROPOSAL, "body": "hm"}],
        events=[{"id": EVENT, "title": "Demo event", "capacity": None}],
        registrations=[
            {"event_id": EVENT, "account_id": OTHER, "status": "confirmed", "position": None}
        ],
        api_views={
            ("proposal", PROPOSAL): {"support_count": 1, "comments": 1},
            ("event", EVENT): {"confirmed_count": 1, "waitlist_count": 0},
        },
    )
    supported = op(("support", PROPOSAL, ME))
    assert only(count(history(supported), state), "api_views") == counted()
    state.api_views[("proposal", PROPOSAL)]["comments"] = 0
    state.api_views[("event", EVENT)]["confirmed_count"] = 2
    assert only(count(history(supported), state), "api_views") == counted(lost=1, duplicated=1)
    state.api_views[("proposal", "prop-404")] = {"support_count": 0, "comments": 0}
    assert count(history(supported), state)["api_views"].unexpected == 1


# --- notifications ------------------------------------------------------------------------


def envelope(type_, data, actor=OTHER, event_id="ev-1", correlation_id="c-1", at=10.0):
    return {
        "id": event_id,
        "type": type_,
        "actor_id": actor,
        "correlation_id": correlation_id,
        "occurred_at": START + at,
        "data": data,
    }


def notification(event_id="ev-1", account=AUTHOR, at=10.0, digest="pending", title="T"):
    return {
        "id": f"n-{event_id}-{account}-{at}",
        "event_id": event_id,
        "account_id": account,
        "kind": "proposal_supported",
        "created_at": START + at,
        "digest": digest,
        "title_sv": title,
        "title_en": title,
    }


SUPPORTED = {
    "proposal_id": PROPOSAL,
    "title": "T",
    "author_id": AUTHOR,
    "account_id": OTHER,
    "support_count": 1,
}


def test_an_owed_notification_present_counts_nothing():
    state = State(
        produced=[envelope("proposal_supported", SUPPORTED)], notifications=[notification()]
    )
    assert only(count(history(), state), "notifications") == counted()


def test_an_owed_notification_missing_is_lost():
    state = State(produced=[envelope("proposal_supported", SUPPORTED)])
    assert only(count(history(), state), "notifications") == counted(lost=1)


def test_nothing_is_owed_to_the_actor_to_muters_or_for_poison():
    state = State(
        produced=[
            envelope("proposal_supported", SUPPORTED, actor=AUTHOR, event_id="ev-1"),
            envelope(
                "proposal_supported", SUPPORTED, event_id="ev-2", correlation_id="chaos-poison-1"
            ),
            envelope("proposal_supported", SUPPORTED, event_id="ev-3", at=-100.0),  # earlier
            envelope("comment_added", {**SUPPORTED, "comment_id": "c1"}, event_id="ev-4"),
        ],
        muted={(AUTHOR, "comment_added")},
    )
    assert only(count(history(), state), "notifications") == counted()


def test_a_notification_for_an_event_nobody_produced_is_unexpected():
    state = State(notifications=[notification(event_id="ev-404")])
    assert only(count(history(), state), "notifications") == counted(unexpected=1)


def test_one_comment_produced_twice_and_told_twice_is_duplicated():
    data = {**SUPPORTED, "comment_id": "c1", "comment_author_id": OTHER}
    state = State(
        produced=[
            envelope("comment_added", data, event_id="ev-1"),
            envelope("comment_added", data, event_id="ev-2"),
        ],
        notifications=[notification("ev-1"), notification("ev-2")],
    )
    assert only(count(history(), state), "notifications") == counted(duplicated=1)


def test_two_supports_told_twice_are_not_duplicates():
    state = State(
        produced=[
            envelope("proposal_supported", SUPPORTED, event_id="ev-1"),
            envelope("proposal_supported", SUPPORTED, event_id="ev-2"),
        ],
        notifications=[notification("ev-1"), notification("ev-2")],
    )
    assert only(count(history(), state), "notifications") == counted()


# --- emails -------------------------------------------------------------------------------

ROW = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


def email_row(row_id=ROW, status="sent", subject="T", kind="confirmation", at=10.0, resent_at=None):
    return {
        "id": row_id,
        "account_id": AUTHOR,
        "kind": kind,
        "subject": subject,
        "status": status,
        "created_at": START + at,
        "resent_at": resent_at,
    }


def mail(row_id=ROW, message_id=None):
    return {
        "message_id": message_id or make_msgid(idstring=row_id.replace("-", ""), domain="x"),
        "to": "a@example",
        "subject": "T",
        "received_at": START + 20,
    }


def test_the_row_id_in_a_message_id():
    assert row_id_of(make_msgid(idstring=ROW.replace("-", ""), domain="civic.example")) == ROW
    assert row_id_of(f"<{ROW.replace('-', '')}@civic.example>") == ROW
    assert row_id_of(f"<civic.{ROW}@civic.example>") == ROW
    assert row_id_of(f"<{ROW}.2@civic.example>") == ROW
    assert row_id_of("<something-else@example>") is None


def test_an_email_sent_and_received_once_counts_nothing():
    state = State(emails=[email_row()], mail=[mail()])
    assert only(count(history(), state), "emails") == counted()


def test_an_email_received_twice_is_duplicated():
    # Resent after a crash (a new random Message-ID) or by a second instance (the same).
    state = State(emails=[email_row()], mail=[mail(), mail()])
    assert only(count(history(), state), "emails") == counted(duplicated=1)
    again = mail()
    state = State(emails=[email_row()], mail=[again, again, mail()])
    assert only(count(history(), state), "emails") == counted(duplicated=2)


def test_a_resend_after_a_crash_under_the_same_message_id_is_counted_apart():
    # The sender died between the SMTP server's answer and marking the row sent; the
    # next pass sent it again (resent_at set), with the same Message-ID: allowed, once.
    resent = email_row(resent_at=START + 15)
    once_more = mail()
    counts = count(history(), State(emails=[resent], mail=[once_more, once_more]))
    assert only(counts, "emails") == counted()
    assert counts.resent_emails == 1
    assert not counts.failed()


def test_a_resend_beyond_the_allowed_one_is_duplicated():
    resent = email_row(resent_at=START + 15)
    again = mail()
    # A third copy.
    counts = count(history(), State(emails=[resent], mail=[again, again, again]))
    assert only(counts, "emails") == counted(duplicated=2)
    assert counts.resent_emails == 0
    # A second copy under another Message-ID.
    other = mail(message_id=f"<{ROW}.2@x>")
    counts = count(history(), State(emails=[resent], mail=[again, other]))
    assert only(counts, "emails") == counted(duplicated=1)
    # Twice under one Message-ID but the row was never resent: a second sender.
    counts = count(history(), State(emails=[email_row()], mail=[again, again]))
    assert only(counts, "emails") == counted(duplicated=1)


def test_an_email_marked_sent_but_never_received_or_given_up_is_lost():
    state = State(emails=[email_row(), email_row("11111111-2222-3333-4444-555555555555", "failed")])
    assert only(count(history(), state), "emails") == counted(lost=2)


def test_a_queued_email_is_pending_not_lost():
    counts = count(history(), State(emails=[email_row(status="queued")]))
    assert only(counts, "emails") == counted()
    assert counts.pending_emails == 1


def test_a_message_for_no_email_row_is_unexpected():
    assert only(count(history(), State(mail=[mail()])), "emails") == counted(unexpected=1)


def test_owed_immediate_emails():
    immediate = {AUTHOR: {"mode": "immediate", "updated_at": START + 1}}
    produced = [envelope("proposal_supported", SUPPORTED)]
    told = [notification(digest=None)]
    # Owed and there.
    state = State(
        produced=produced,
        notifications=told,
        preferences=immediate,
        emails=[email_row(kind="notification")],
        mail=[mail()],
    )
    assert only(count(history(), state), "emails") == counted()
    # Owed, no email row.
    state = State(produced=produced, notifications=told, preferences=immediate)
    assert only(count(history(), state), "emails") == counted(lost=1)
    # Two rows for one notification.
    second = "22222222-3333-4444-5555-666666666666"
    state = State(
        produced=produced,
        notifications=told,
        preferences=immediate,
        emails=[email_row(kind="notification"), email_row(second, kind="notification")],
        mail=[mail(), mail(second)],
    )
    assert only(count(history(), state), "emails") == counted(duplicated=1)
    # Waiting for a digest: owes no email now.
    state = State(produced=produced, notifications=[notification()], preferences=immediate)
    assert only(count(history(), state), "emails") == counted()


# --- dead letters and the verdict ---------------------------------------------------------


def test_dead_letters_split_into_poison_and_healthy_and_seen():
    state = State(
        dead_letters=[
            {"id": "d1", "correlation_id": "chaos-poison-x-1"},
            {
                "id": "d2",
                "correlation_id": f"{TAG}-0-4",
                "type": "comment_added",
                "queue": "evt-all--notifications.on_event",
                "attempts": 4,
                "error": "its handler never finished 4 times",
            },
            {"id": "d3", "correlation_id": f"{TAG}-0-5"},
        ]
    )
    counts = count(history(), state, seen_dead_letters={"d3"})
    assert (counts.dead_letters, counts.poison_dead_letters) == (1, 1)
    assert counts.dead_letter_ids == ["d1", "d2", "d3"]
    # The healthy one is described in the summary (queue, attempts, error).
    assert counts.dead_letter_examples == [
        f"comment_added in evt-all--notifications.on_event (correlation id {TAG}-0-4, "
        "4 attempts): its handler never finished 4 times"
    ]
    assert "healthy dead letter: comment_added" in counts.summary()
    assert counts.failed(poison_round=True)
    state.dead_letters = state.dead_letters[:1]
    only_poison = count(history(), state)
    assert only_poison.failed(poison_round=False)
    assert not only_poison.failed(poison_round=True)


def test_recovered_alone_is_no_fault_and_problems_are():
    counts = count(history(op(("support", PROPOSAL, ME), status=None)), State(supports=[support()]))
    assert counts.recovered == 1 and not counts.failed()
    assert count(history(), State(problems=["events database: locked"])).failed()
    assert "recovered 1" in counts.summary()
    assert counts.as_row()["operations"] == 1


def test_reads_and_sign_ins_are_not_operations():
    counts = count(history(op(None, NONE, 200), op(("support", PROPOSAL, ME))), State())
    assert counts.operations == 1
