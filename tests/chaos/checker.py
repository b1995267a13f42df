"""The chaos suite's checker: Jepsen's four counts per kind of effect, for one round.

`check(platform, history)` reads the platform's final state (`read_state`: straight from
each service's database, the public API's view of the round's proposals and events, the
SMTP server's received messages and the staff dead-letter API) and counts it against the
round's history (`count`, a pure function of the history and the state, unit-tested in
test_checker.py on hand-made histories and states). It is meant to run once the faults
are healed and the platform is quiet (every queue empty, every outbox sent): anything
still missing then is missing for good.

## The four counts

- **lost**: the client was told it happened (2xx), or it is a consequence the platform
  owes (a notification, an email, a read-model copy), and it is not there at the end;
  also a removal the client was told happened (204) whose thing is still there.
- **recovered**: the client could not know (timeout, dropped connection, 5xx: the
  `unknown` outcome) and the effect is there at the end (for an unknown removal: the
  thing is gone). Not a fault: Jepsen's "indeterminate, turned out to have happened".
- **unexpected**: there at the end although nobody asked for it, or although the only
  answers said it did not happen (a 4xx); a copy that holds something its source does
  not; a notification for no event that was produced.
- **duplicated**: there more than once where there must be one.

## Resources (kinds accounts, groups, events, proposals, comments, openings, memberships,
## join_requests, supports, registrations, interests, follows)

Every request that adds or removes a thing names it by an `effect` tuple (history.py):
resources the server names (accounts, groups, events, proposals, comments, openings) by
the client's marker in their email, name, title or body; relations by their ids
(`("support", proposal_id, account_id)`). The requests about one thing are replayed in
order to know what may be there at the end: an acknowledged add (2xx, or a 409 "already
there") makes it certainly there, an acknowledged removal (204, or a 404 "not there")
certainly absent, a 4xx changes nothing, an unknown outcome makes both possible. Then:
certainly there but absent → lost; certainly absent but there → lost when a removal was
acknowledged last, else unexpected; either possible and the state differs from what it
would be had every unknown request done nothing → recovered. A thing found n > 1 times
counts n − 1 duplicated. A thing of the round (its marker, or a relation of one of the
round's accounts) that no request names → unexpected (its admin membership of a group it
created and automatic follows are the platform's doing, not counted).

What counts as "there": an account by email; a group by name; an event by title; a
proposal, opening by the marker in its title; a comment by the marker in its body; a
membership as an active row of groups' `memberships`; a join request as a pending or
active row there; a support, registration (confirmed or waitlisted), interest, follow
(automatic or by hand) as a row of the owning service's table.

## Invariants (kinds waiting_lists, support_counts)

For each of the round's events: confirmed places beyond the capacity are duplicated
(places given twice); waiting-list positions must be 1..n — a position held twice counts
duplicated, a gap lost; a free place while someone waits counts lost (a promotion that
never happened). For each proposal the round touched: `support_count` above its support
rows is duplicated by the difference, below them lost.

## Read models (kind read_models)

Groups' `memberships` (active rows) is the truth; the copies are `known_memberships`
(active rows) in proposals, events and openings and `memberships` in notifications; also
events' `registrations` against notifications' `registrations` copy. Compared for the
round's accounts and groups only: a membership (registration) missing from a copy, or
inactive there, is lost in that copy; a copy's row the source does not hold is
unexpected (a ghost: e.g. an admin who left); a copy with another role (status) than the
source counts unexpected too. Each copy counts separately (one missing membership, four
copies: up to four lost).

## What the API shows (kind api_views)

The round's proposals and events read through the public API (GET /proposals/{id},
GET /events/{id}, anonymously) against the rows stored: `support_count` and the number
of comments against the support and comment rows, `confirmed_count` and
`waitlist_count` against the registration rows. The API showing more than is stored
counts duplicated by the difference, less lost.

## Inbox notifications (kind notifications)

Which notifications are owed is decided from the events the services produced (every
service's outbox, rows created during the round) with the notification rules
(services/notifications/rules.py): for each event, each rule that applies, the accounts
its `Account(field)` audiences name in the event's data, less the actor (unless the rule
`tells_actor`) and accounts muting that kind — e.g. a proposal's author on a support or
comment, the promoted registrant, the business admins named in `interest_registered`,
the group admins named in `join_requested`. Followers, group admins and registrants
found in notifications' own read models depend on the order of concurrent events, so
those notifications are not owed here (they are checked for duplicates and
unexpectedness only). Events produced by a poison request (correlation id
`chaos-poison-…`) owe nothing. Then: an owed (event, account) without an inbox row →
lost; more than one row for an (event, account) → duplicated; two or more produced events
about one comment (`comment_added` per `comment_id`) or one interest (`interest_registered`
per opening and account) each reaching the same account → duplicated (the producer did
it twice, and the resident was told twice); an inbox row of the round whose event no
service produced → unexpected.

## Emails (kind emails)

Every received message is tied to its `emails` row by the row id the Message-ID carries
(`<…<row id without dashes>@…>`, as services/notifications/email.py makes it; a UUID
with dashes is read too). Each row is
sent at most once: a row of the round received k > 1 times (under one Message-ID or
several: a Message-ID received twice is such a row) counts k − 1 duplicated — with one
exception, the resend the design allows: a row whose sender died between handing it to
the SMTP server and marking it (the row says so: `resent_at` is set when the next pass
sends it again) may arrive twice under one Message-ID, which a recipient's mail system
can tell apart; that second copy counts as a resend (`Counts.resent_emails`, reported),
not a duplicate. A third copy, a second Message-ID, or a second copy of a row never
resent is duplicated. A row of
the round marked `sent` but never received, or given up (`failed`), is lost; a row still
`queued` at the end is pending (reported, not lost: its next attempt is later). A
message received during the round naming a row the table does not hold is unexpected.
Owed notification emails: every inbox row of the round not waiting for a digest
(`digest` null) for an account whose email preference is `immediate` since before the
notification owes one notification email with the message's title (in the account's
language) as subject; per account and subject, fewer rows than owed → lost, more rows
than the round's inbox rows with that title → duplicated.

## Dead letters

`GET /api/v1/staff/dead-letters` (as staff): each dead letter not seen by an earlier
round's check counts; those whose correlation id starts with `chaos-poison-` are the
poison round's, the others are healthy messages that should not be there.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from tests.chaos.history import ADD, OK, REMOVE, UNKNOWN, History

POISON_PREFIX = "chaos-poison-"
EXAMPLES_MAX = 5
# Events' clocks and the workload's differ by a little: a round's things are those from
# this many seconds before the workload began.
SCOPE_SLACK_S = 2.0

RESOURCE_KINDS = (
    "accounts",
    "groups",
    "events",
    "proposals",
    "comments",
    "openings",
    "memberships",
    "join_requests",
    "supports",
    "registrations",
    "interests",
    "follows",
)
KINDS = (
    *RESOURCE_KINDS,
    "waiting_lists",
    "support_counts",
    "read_models",
    "api_views",
    "notifications",
    "emails",
)
# effect[0] -> kind
EFFECT_KINDS = {
    "account": "accounts",
    "group": "groups",
    "event": "events",
    "proposal": "proposals",
    "comment": "comments",
    "opening": "openings",
    "membership": "memberships",
    "join_request": "join_requests",
    "support": "supports",
    "registration": "registrations",
    "interest": "interests",
    "follow": "follows",
}
# Produced events about one thing that must each be told once: type -> the data fields
# naming the thing.
ONCE_PER_THING = {
    "comment_added": ("comment_id",),
    "interest_registered": ("opening_id", "account_id"),
}
# An email row's id in a Message-ID: 32 hex digits (make_msgid's idstring, today) or the
# UUID with its dashes (a stable Message-ID may carry it so).
_ROW_ID = re.compile(
    r"(?<![0-9a-fA-F-])([0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}"
    r"-?[0-9a-fA-F]{12})(?![0-9a-fA-F-])"
)


# --- the counts -------------------------------------------------------------------------


@dataclass
class KindCounts:
    lost: int = 0
    recovered: int = 0
    unexpected: int = 0
    duplicated: int = 0
    acknowledged: int = 0  # requests answered 2xx (resources only)
    unknown: int = 0  # requests with an unknown outcome (resources only)
    examples: list[str] = field(default_factory=list)

    def note(self, count: str, amount: int, example: str) -> None:
        if amount <= 0:
            return
        setattr(self, count, getattr(self, count) + amount)
        if len(self.examples) < EXAMPLES_MAX:
            self.examples.append(f"{count}: {example}")


@dataclass
class Counts:
    kinds: dict[str, KindCounts] = field(
        default_factory=lambda: {kind: KindCounts() for kind in KINDS}
    )
    operations: int = 0
    unknown_operations: int = 0
    dead_letters: int = 0  # healthy messages dead-lettered
    poison_dead_letters: int = 0
    dead_letter_ids: list[str] = field(default_factory=list)
    # What a healthy dead letter was (queue, type, attempts, error): a failed round says.
    dead_letter_examples: list[str] = field(default_factory=list)
    pending_emails: int = 0
    # Second copies, under the same Message-ID, of rows resent after their sender died
    # mid-send: allowed by the design (services/notifications/email.py), reported.
    resent_emails: int = 0
    problems: list[str] = field(default_factory=list)

    def __getitem__(self, kind: str) -> KindCounts:
        return self.kinds[kind]

    def _sum(self, name: str) -> int:
        return sum(getattr(kind, name) for kind in self.kinds.values())

    @property
    def lost(self) -> int:
        return self._sum("lost")

    @property
    def recovered(self) -> int:
        return self._sum("recovered")

    @property
    def unexpected(self) -> int:
        return self._sum("unexpected")

    @property
    def duplicated(self) -> int:
        return self._sum("duplicated")

    def failed(self, poison_round: bool = False) -> bool:
        """Whether the round shows a fault: anything lost, unexpected or duplicated, a
        healthy message dead-lettered, a poison dead letter outside the poison round, or
        a part of the state the checker could not read."""
        return bool(
            self.lost
            or self.unexpected
            or self.duplicated
            or self.dead_letters
            or (self.poison_dead_letters and not poison_round)
            or self.problems
        )

    def as_row(self) -> dict:
        return {
            "operations": self.operations,
            "unknown": self.unknown_operations,
            "lost": self.lost,
            "recovered": self.recovered,
            "unexpected": self.unexpected,
            "duplicated": self.duplicated,
            "dead_letters": self.dead_letters,
            "poison_dead_letters": self.poison_dead_letters,
            "pending_emails": self.pending_emails,
            "resent_emails": self.resent_emails,
        }

    def summary(self) -> str:
        lines = [
            f"{self.operations} operations ({self.unknown_operations} unknown): "
            f"lost {self.lost}, recovered {self.recovered}, unexpected {self.unexpected}, "
            f"duplicated {self.duplicated}; dead letters {self.dead_letters} "
            f"(+{self.poison_dead_letters} poison); emails pending {self.pending_emails}, "
            f"resent after a crash {self.resent_emails}"
        ]
        for name, kind in self.kinds.items():
            if kind.lost or kind.recovered or kind.unexpected or kind.duplicated:
                lines.append(
                    f"  {name}: lost {kind.lost}, recovered {kind.recovered}, "
                    f"unexpected {kind.unexpected}, duplicated {kind.duplicated}"
                )
                lines.extend(f"    {example}" for example in kind.examples)
        lines.extend(f"  healthy dead letter: {example}" for example in self.dead_letter_examples)
        lines.extend(f"  problem: {problem}" for problem in self.problems)
        return "\n".join(lines)


# --- the state --------------------------------------------------------------------------


@dataclass
class State:
    """The final state, as plain rows (dicts), whatever the database."""

    accounts: dict[str, str] = field(default_factory=dict)  # email -> account id
    groups: list[dict] = field(default_factory=list)  # id, name
    memberships: list[dict] = field(default_factory=list)  # group_id, account_id, role, status
    # service -> rows (group_id, account_id, role, active)
    copies: dict[str, list[dict]] = field(default_factory=dict)
    proposals: list[dict] = field(default_factory=list)  # id, title, support_count
    supports: list[dict] = field(default_factory=list)  # proposal_id, account_id
    comments: list[dict] = field(default_factory=list)  # id, proposal_id, body
    events: list[dict] = field(default_factory=list)  # id, title, capacity
    registrations: list[dict] = field(default_factory=list)  # event_id, account_id, status, pos.
    registration_copies: list[dict] = field(default_factory=list)  # event_id, account_id, status
    openings: list[dict] = field(default_factory=list)  # id, title
    interests: list[dict] = field(default_factory=list)  # opening_id, account_id
    follows: list[dict] = field(default_factory=list)  # account_id, target_type, target_id, source
    # Envelopes from every service's outbox (id, type, actor_id, correlation_id,
    # occurred_at, data), of the round or all.
    produced: list[dict] = field(default_factory=list)
    # id, event_id, account_id, kind, created_at, digest, title_sv, title_en
    notifications: list[dict] = field(default_factory=list)
    muted: set[tuple[str, str]] = field(default_factory=set)  # (account_id, kind)
    preferences: dict[str, dict] = field(default_factory=dict)  # account -> mode, updated_at
    locales: dict[str, str] = field(default_factory=dict)  # account -> locale
    # id, account_id, kind, subject, status, created_at
    emails: list[dict] = field(default_factory=list)
    mail: list[dict] = field(default_factory=list)  # message_id, to, subject, received_at
    # id, correlation_id, type, queue, attempts, error
    dead_letters: list[dict] = field(default_factory=list)
    # What the public API shows of the round's proposals and events: (what, id) -> the
    # answer's counts (support_count and comments; confirmed_count and waitlist_count).
    api_views: dict[tuple[str, str], dict] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def epoch(value) -> float | None:
    """Seconds since the epoch of a datetime (naive: UTC) or ISO string; None stays."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


# --- counting ---------------------------------------------------------------------------


def count(history: History, state: State, seen_dead_letters=frozenset()) -> Counts:
    """Jepsen's counts of the round `history` against the final `state` (see the module
    docstring for every rule)."""
    counts = Counts()
    counts.operations = sum(1 for op in history.operations if op.action != "none")
    counts.unknown_operations = sum(
        1 for op in history.operations if op.action != "none" and op.outcome == UNKNOWN
    )
    counts.problems.extend(state.problems)
    scope = history.started_at - SCOPE_SLACK_S
    _resources(history, state, counts)
    _waiting_lists(history, state, counts)
    _support_counts(history, state, counts)
    _read_models(history, state, counts)
    _api_views(state, counts)
    _notifications(state, counts, scope)
    _emails(state, counts, scope)
    _dead_letters(state, counts, seen_dead_letters)
    return counts


def replay(operations) -> tuple[set[bool], bool, str | None]:
    """What may be there after these requests about one thing, in order: (the possible
    presences, the presence had every unknown request done nothing, the action of the
    last request whose answer settled it)."""
    possible, baseline, settled_by = {False}, False, None
    for op in operations:
        if op.outcome == UNKNOWN:
            possible = possible | {op.action == ADD}
            continue
        if op.action == ADD and (op.outcome == OK or op.status == 409):
            possible, baseline, settled_by = {True}, True, ADD
        elif op.action == REMOVE and (op.outcome == OK or op.status == 404):
            possible, baseline, settled_by = {False}, False, REMOVE
        # any other 4xx: nothing happened, nothing changes
    return possible, baseline, settled_by


_WORD = re.compile(r"[\w-]+")


class Found:
    """How many times each thing an effect can name is there: counted once per state,
    so that a round of thousands of requests is checked in a moment."""

    def __init__(self, state: State):
        def words(rows, field_name):
            return Counter(word for row in rows for word in set(_WORD.findall(row[field_name])))

        def keyed(rows, *fields):
            return Counter(tuple(row[name] for name in fields) for row in rows)

        self.counters = {
            "account": Counter(state.accounts.keys()),
            "group": keyed(state.groups, "name"),
            "event": keyed(state.events, "title"),
            # A marker is a word of its own in a title or body ("…-c-0-1" is not found
            # in "…-c-0-10").
            "proposal": words(state.proposals, "title"),
            "opening": words(state.openings, "title"),
            "comment": words(state.comments, "body"),
            "membership": keyed(
                [row for row in state.memberships if row["status"] == "active"],
                "group_id",
                "account_id",
            ),
            "join_request": keyed(state.memberships, "group_id", "account_id"),
            "support": keyed(state.supports, "proposal_id", "account_id"),
            "registration": keyed(state.registrations, "event_id", "account_id"),
            "interest": keyed(state.interests, "opening_id", "account_id"),
            "follow": keyed(state.follows, "target_type", "target_id", "account_id"),
        }

    def __call__(self, effect: tuple) -> int:
        try:
            counter = self.counters[effect[0]]
        except KeyError:
            raise ValueError(f"unknown effect {effect!r}") from None
        key = effect[1] if effect[0] in ("account", "proposal", "opening", "comment") else None
        return counter.get(key if key is not None else tuple(effect[1:]), 0)


def _resources(history: History, state: State, counts: Counts) -> None:
    for op in history.operations:
        if op.effect is None or op.action == "none":
            continue
        kind = counts[EFFECT_KINDS[op.effect[0]]]
        kind.acknowledged += op.outcome == OK
        kind.unknown += op.outcome == UNKNOWN
    requested = history.by_effect()
    found_in = Found(state)
    for effect, operations in requested.items():
        kind = counts[EFFECT_KINDS[effect[0]]]
        found = found_in(effect)
        there = found > 0
        possible, baseline, settled_by = replay(operations)
        label = " ".join(str(part) for part in effect)
        if possible == {True} and not there:
            kind.note("lost", 1, f"{label}: acknowledged, not there")
        elif possible == {False} and there:
            if settled_by == REMOVE:
                kind.note("lost", 1, f"{label}: removal acknowledged, still there")
            else:
                kind.note("unexpected", 1, f"{label}: refused, yet there")
        elif len(possible) == 2 and there != baseline:
            kind.note("recovered", 1, label)
        kind.note("duplicated", found - 1, f"{label}: there {found} times")
    _unrequested(history, state, counts, set(requested))


def _unrequested(history: History, state: State, counts: Counts, requested: set) -> None:
    """The round's things that no request names."""
    tag = history.tag
    ours = set(history.accounts)
    marks = {effect[1] for effect in requested if len(effect) == 2}
    created_groups = {row["id"] for row in state.groups if tag in row["name"]}

    def check(kind: str, candidates) -> None:
        for label in candidates:
            counts[kind].note("unexpected", 1, f"{label}: never requested")

    check("proposals", _unmarked(state.proposals, "title", tag, marks))
    check("openings", _unmarked(state.openings, "title", tag, marks))
    check("comments", _unmarked(state.comments, "body", tag, marks))
    check(
        "groups",
        [row["name"] for row in state.groups if tag in row["name"] and row["name"] not in marks],
    )
    check(
        "events",
        [row["title"] for row in state.events if tag in row["title"] and row["title"] not in marks],
    )
    check(
        "memberships",
        [
            f"membership {row['group_id']} {row['account_id']}"
            for row in state.memberships
            if row["account_id"] in ours
            and not (row["role"] == "admin" and row["group_id"] in created_groups)
            and ("membership", row["group_id"], row["account_id"]) not in requested
            and ("join_request", row["group_id"], row["account_id"]) not in requested
        ],
    )
    for kind, rows, field_name, name in (
        ("supports", state.supports, "proposal_id", "support"),
        ("registrations", state.registrations, "event_id", "registration"),
        ("interests", state.interests, "opening_id", "interest"),
    ):
        check(
            kind,
            [
                f"{name} {row[field_name]} {row['account_id']}"
                for row in rows
                if row["account_id"] in ours
                and (name, row[field_name], row["account_id"]) not in requested
            ],
        )
    check(
        "follows",
        [
            f"follow {row['target_type']} {row['target_id']} {row['account_id']}"
            for row in state.follows
            if row["account_id"] in ours
            and row.get("source") != "auto"
            and ("follow", row["target_type"], row["target_id"], row["account_id"]) not in requested
        ],
    )


def _unmarked(rows, field_name: str, tag: str, marks: set) -> list[str]:
    found = []
    for row in rows:
        words = re.findall(rf"{re.escape(tag)}-[\w-]+", row[field_name])
        if words and not any(word in marks for word in words):
            found.append(words[0])
    return found


def _round_events(history: History, state: State) -> list[dict]:
    return [row for row in state.events if history.tag in row["title"]]


def _waiting_lists(history: History, state: State, counts: Counts) -> None:
    kind = counts["waiting_lists"]
    for event in _round_events(history, state):
        rows = [row for row in state.registrations if row["event_id"] == event["id"]]
        confirmed = sum(1 for row in rows if row["status"] == "confirmed")
        positions = sorted(row["position"] for row in rows if row["status"] == "waitlisted")
        capacity = event["capacity"]
        title = event["title"]
        if capacity is not None:
            kind.note(
                "duplicated",
                confirmed - capacity,
                f"{title}: {confirmed} confirmed for {capacity} places",
            )
            if positions:
                kind.note(
                    "lost",
                    min(capacity - confirmed, len(positions)),
                    f"{title}: {capacity - confirmed} places free, {len(positions)} waiting",
                )
        repeated = len(positions) - len(set(positions))
        kind.note("duplicated", repeated, f"{title}: waiting-list positions {positions}")
        gaps = len(set(range(1, len(set(positions)) + 1)) - set(positions))
        kind.note("lost", gaps, f"{title}: waiting-list positions {positions}")


def _support_counts(history: History, state: State, counts: Counts) -> None:
    kind = counts["support_counts"]
    touched = {effect[1] for effect in history.by_effect() if effect[0] == "support"}
    rows = Counter(row["proposal_id"] for row in state.supports)
    for proposal in state.proposals:
        if proposal["id"] not in touched and history.tag not in proposal["title"]:
            continue
        difference = proposal["support_count"] - rows.get(proposal["id"], 0)
        label = f"proposal {proposal['id']}: support_count {proposal['support_count']}, "
        label += f"{rows.get(proposal['id'], 0)} supports"
        kind.note("duplicated", difference, label)
        kind.note("lost", -difference, label)


def _read_models(history: History, state: State, counts: Counts) -> None:
    kind = counts["read_models"]
    ours = set(history.accounts)
    round_groups = {row["id"] for row in state.groups if history.tag in row["name"]}

    def in_round(group_id: str, account_id: str) -> bool:
        return account_id in ours or group_id in round_groups

    truth = {
        (row["group_id"], row["account_id"]): row["role"]
        for row in state.memberships
        if row["status"] == "active" and in_round(row["group_id"], row["account_id"])
    }
    for service, rows in sorted(state.copies.items()):
        copy = {
            (row["group_id"], row["account_id"]): row["role"]
            for row in rows
            if row.get("active", True) and in_round(row["group_id"], row["account_id"])
        }
        _compare(kind, f"{service} memberships", truth, copy)
    events = {row["id"] for row in _round_events(history, state)}
    truth = {
        (row["event_id"], row["account_id"]): row["status"]
        for row in state.registrations
        if row["event_id"] in events
    }
    copy = {
        (row["event_id"], row["account_id"]): row["status"]
        for row in state.registration_copies
        if row["event_id"] in events
    }
    _compare(kind, "notifications registrations", truth, copy)


def _compare(kind: KindCounts, where: str, truth: dict, copy: dict) -> None:
    for key, value in truth.items():
        if key not in copy:
            kind.note("lost", 1, f"{where}: {' '.join(key)} {value} missing")
        elif copy[key] != value:
            kind.note("unexpected", 1, f"{where}: {' '.join(key)} {copy[key]}, source {value}")
    for key, value in copy.items():
        if key not in truth:
            kind.note("unexpected", 1, f"{where}: {' '.join(key)} {value}, not in the source")


def _api_views(state: State, counts: Counts) -> None:
    kind = counts["api_views"]
    supports = Counter(row["proposal_id"] for row in state.supports)
    comments = Counter(row["proposal_id"] for row in state.comments)
    registrations = Counter((row["event_id"], row["status"]) for row in state.registrations)
    stored = {}
    for proposal in state.proposals:
        stored[("proposal", proposal["id"])] = {
            "support_count": supports.get(proposal["id"], 0),
            "comments": comments.get(proposal["id"], 0),
        }
    for event in state.events:
        stored[("event", event["id"])] = {
            "confirmed_count": registrations.get((event["id"], "confirmed"), 0),
            "waitlist_count": registrations.get((event["id"], "waitlisted"), 0),
        }
    for key, shown in sorted(state.api_views.items()):
        rows = stored.get(key)
        if rows is None:
            kind.note("unexpected", 1, f"{' '.join(key)}: shown by the API, not stored")
            continue
        for name, value in sorted(shown.items()):
            label = f"{' '.join(key)}: the API shows {name} {value}, stored {rows[name]}"
            kind.note("duplicated", value - rows[name], label)
            kind.note("lost", rows[name] - value, label)


def owed_recipients(envelope: dict, muted: set[tuple[str, str]] = frozenset()) -> set[str]:
    """The accounts a produced event's data names for a notification (the rules'
    `Account` audiences), less the actor (unless the rule tells the actor) and those
    muting the rule's kind."""
    from services.notifications import rules

    data = envelope.get("data") or {}
    actor = envelope.get("actor_id")
    owed: set[str] = set()
    for rule in rules.rules_for(envelope["type"]):
        if not rule.applies(data):
            continue
        for audience in rule.tell:
            if not isinstance(audience, rules.Account):
                continue
            value = data.get(audience.field)
            ids = value if isinstance(value, list) else [value] if value else []
            for account_id in ids:
                if account_id == actor and not rule.tells_actor:
                    continue
                if (account_id, rule.kind) in muted:
                    continue
                owed.add(account_id)
    return owed


def _notifications(state: State, counts: Counts, scope: float) -> None:
    kind = counts["notifications"]
    produced = {envelope["id"]: envelope for envelope in state.produced}
    rows = [row for row in state.notifications if (epoch(row["created_at"]) or 0) >= scope]
    told = Counter((row["event_id"], row["account_id"]) for row in rows)
    for (event_id, account_id), times in told.items():
        kind.note("duplicated", times - 1, f"event {event_id} told {account_id} {times} times")
        if event_id not in produced:
            kind.note("unexpected", 1, f"event {event_id} (told {account_id}) was never produced")
    round_events = [
        envelope
        for envelope in state.produced
        if (epoch(envelope["occurred_at"]) or 0) >= scope
        and not str(envelope.get("correlation_id") or "").startswith(POISON_PREFIX)
    ]
    for envelope in round_events:
        for account_id in sorted(owed_recipients(envelope, state.muted)):
            if (envelope["id"], account_id) not in told:
                kind.note("lost", 1, f"{envelope['type']} {envelope['id']}: {account_id} not told")
    # The same thing produced twice, each time telling the same account.
    by_thing: dict[tuple, set[str]] = defaultdict(set)
    for envelope in state.produced:
        fields = ONCE_PER_THING.get(envelope["type"])
        if fields and (epoch(envelope["occurred_at"]) or 0) >= scope:
            data = envelope.get("data") or {}
            by_thing[(envelope["type"], *(data.get(name) for name in fields))].add(envelope["id"])
    for thing, event_ids in by_thing.items():
        if len(event_ids) < 2:
            continue
        accounts = Counter(account_id for (event_id, account_id) in told if event_id in event_ids)
        for account_id, times in accounts.items():
            kind.note(
                "duplicated",
                times - 1,
                f"{' '.join(map(str, thing))}: produced {len(event_ids)} times, "
                f"{account_id} told {times} times",
            )


def row_id_of(message_id: str) -> str | None:
    """The `emails` row id a Message-ID carries (dashes put back), or None."""
    found = _ROW_ID.search(message_id or "")
    if not found:
        return None
    hexid = found.group(1).replace("-", "").lower()
    return f"{hexid[:8]}-{hexid[8:12]}-{hexid[12:16]}-{hexid[16:20]}-{hexid[20:]}"


def _emails(state: State, counts: Counts, scope: float) -> None:
    kind = counts["emails"]
    rows = {row["id"]: row for row in state.emails}
    round_rows = [row for row in state.emails if (epoch(row["created_at"]) or 0) >= scope]
    in_round = {row["id"] for row in round_rows}
    # Received messages of the round's rows (the server keeps earlier rounds' too), and
    # those naming no row at all.
    received: dict[str, list[str]] = defaultdict(list)
    for message in state.mail:
        row_id = row_id_of(message["message_id"])
        if row_id is None:
            continue
        if row_id not in rows:
            if (message.get("received_at") or scope) >= scope:
                kind.note("unexpected", 1, f"{message['message_id']}: no such email row")
        elif row_id in in_round:
            received[row_id].append(message["message_id"])
    for row_id, message_ids in received.items():
        extra = len(message_ids) - 1
        if extra == 1 and len(set(message_ids)) == 1 and rows[row_id].get("resent_at"):
            counts.resent_emails += 1
            continue
        kind.note(
            "duplicated",
            extra,
            f"email {row_id} received {len(message_ids)} times "
            f"({len(set(message_ids))} Message-IDs)",
        )
    for row in round_rows:
        if row["status"] == "sent" and row["id"] not in received:
            kind.note("lost", 1, f"email {row['id']} marked sent, never received")
        elif row["status"] == "failed":
            kind.note("lost", 1, f"email {row['id']} given up")
        elif row["status"] == "queued":
            counts.pending_emails += 1
    _owed_emails(state, kind, scope, round_rows)


def _owed_emails(state: State, kind: KindCounts, scope: float, round_rows) -> None:
    owed, allowed = Counter(), Counter()
    for row in state.notifications:
        created = epoch(row["created_at"]) or 0
        if created < scope or row["digest"] is not None:
            continue
        account_id = row["account_id"]
        locale = state.locales.get(account_id, "sv")
        subject = row.get(f"title_{locale}") or row.get("title_sv")
        key = (account_id, subject)
        allowed[key] += 1
        preference = state.preferences.get(account_id)
        if (
            preference
            and preference["mode"] == "immediate"
            and (epoch(preference["updated_at"]) or 0) <= created
        ):
            owed[key] += 1
    sent = Counter(
        (row["account_id"], row["subject"]) for row in round_rows if row["kind"] == "notification"
    )
    for key, times in owed.items():
        kind.note("lost", times - sent.get(key, 0), f"{key[0]} “{key[1]}”: no email row")
    for key, times in sent.items():
        kind.note(
            "duplicated",
            times - allowed.get(key, 0),
            f"{key[0]} “{key[1]}”: {times} email rows, {allowed.get(key, 0)} notifications",
        )


def _dead_letters(state: State, counts: Counts, seen) -> None:
    for letter in state.dead_letters:
        identity = str(letter.get("id"))
        counts.dead_letter_ids.append(identity)
        if identity in seen:
            continue
        if str(letter.get("correlation_id") or "").startswith(POISON_PREFIX):
            counts.poison_dead_letters += 1
        else:
            counts.dead_letters += 1
            if len(counts.dead_letter_examples) < EXAMPLES_MAX:
                counts.dead_letter_examples.append(
                    f"{letter.get('type')} in {letter.get('queue')} "
                    f"(correlation id {letter.get('correlation_id')}, "
                    f"{letter.get('attempts')} attempts): "
                    f"{str(letter.get('error') or '')[-300:]}"
                )


# --- reading the state --------------------------------------------------------------------


def check(platform, history: History, *, seen_dead_letters=frozenset()) -> Counts:
    """Read the platform's final state and count it against the round's history."""
    return count(history, read_state(platform, history), seen_dead_letters)


def read_state(platform, history: History) -> State:
    """The platform's final state: each service's database (read models, outboxes,
    inbox, emails), the SMTP server's messages, the staff dead-letter list. A part that
    cannot be read is named in `State.problems` (and so fails the round)."""
    state = State()
    readers = (
        ("groups", _read_groups),
        ("proposals", _read_proposals),
        ("events", _read_events),
        ("openings", _read_openings),
        ("notifications", _read_notifications),
    )
    for service, reader in readers:
        try:
            with _connection(platform, service) as connection:
                reader(connection, state)
                state.produced.extend(_read_outbox(connection, history.started_at))
        except Exception as exc:  # one unreadable database must not hide the others
            state.problems.append(f"{service} database: {type(exc).__name__}: {exc}"[:300])
    try:
        state.mail = [_mail_row(message) for message in platform.mail_messages()]
    except Exception as exc:
        state.problems.append(f"mail: {type(exc).__name__}: {exc}"[:300])
    try:
        state.dead_letters = _read_dead_letters(platform)
    except Exception as exc:
        state.problems.append(f"dead letters: {type(exc).__name__}: {exc}"[:300])
    try:
        state.api_views = _read_api_views(platform, history, state)
    except Exception as exc:
        state.problems.append(f"API views: {type(exc).__name__}: {exc}"[:300])
    return state


class _connection:
    """A short-lived read connection to one service's database (SQLite file, or its
    PostgreSQL schema)."""

    def __init__(self, platform, service: str):
        from sqlalchemy import create_engine

        self.own = not hasattr(platform, "engine")
        if not self.own:
            self.engine = platform.engine(service)
            return
        url = platform.database_url(service)
        schema = getattr(platform, "schema", lambda _service: None)(service)
        connect_args = {}
        if url.startswith("postgresql") and schema:
            connect_args = {"options": f"-csearch_path={schema}"}
        elif url.startswith("sqlite"):
            connect_args = {"timeout": 30}
        self.engine = create_engine(url, connect_args=connect_args)

    def __enter__(self):
        self.connection = self.engine.connect()
        return self.connection

    def __exit__(self, *exc_info):
        self.connection.close()
        if self.own:
            self.engine.dispose()


def _rows(connection, sql: str, **params) -> list[dict]:
    from sqlalchemy import text

    return [dict(row._mapping) for row in connection.execute(text(sql), params)]


def _read_outbox(connection, since: float) -> list[dict]:
    import json

    envelopes = []
    for row in _rows(connection, "SELECT envelope FROM outbox"):
        envelope = json.loads(row["envelope"])
        if (epoch(envelope.get("occurred_at")) or 0) >= since - SCOPE_SLACK_S:
            envelopes.append(envelope)
    return envelopes


def _read_groups(connection, state: State) -> None:
    state.accounts = {
        row["email"]: row["id"] for row in _rows(connection, "SELECT id, email FROM accounts")
    }
    state.groups = _rows(connection, "SELECT id, name FROM groups")
    state.memberships = _rows(
        connection, "SELECT group_id, account_id, role, status FROM memberships"
    )


def _read_copy(connection, state: State, service: str) -> None:
    state.copies[service] = [
        {**row, "active": bool(row["active"])}
        for row in _rows(
            connection, "SELECT group_id, account_id, role, active FROM known_memberships"
        )
    ]


def _read_proposals(connection, state: State) -> None:
    state.proposals = _rows(connection, "SELECT id, title, support_count FROM proposals")
    state.supports = _rows(connection, "SELECT proposal_id, account_id FROM supports")
    state.comments = _rows(connection, "SELECT id, proposal_id, body FROM comments")
    _read_copy(connection, state, "proposals")


def _read_events(connection, state: State) -> None:
    state.events = _rows(connection, "SELECT id, title, capacity FROM events")
    state.registrations = _rows(
        connection, "SELECT event_id, account_id, status, position FROM registrations"
    )
    _read_copy(connection, state, "events")


def _read_openings(connection, state: State) -> None:
    state.openings = _rows(connection, "SELECT id, title FROM openings")
    state.interests = _rows(connection, "SELECT opening_id, account_id FROM interests")
    _read_copy(connection, state, "openings")


def _read_notifications(connection, state: State) -> None:
    state.copies["notifications"] = [
        {**row, "active": True}
        for row in _rows(connection, "SELECT group_id, account_id, role FROM memberships")
    ]
    state.registration_copies = _rows(
        connection, "SELECT event_id, account_id, status FROM registrations"
    )
    state.follows = _rows(
        connection, "SELECT account_id, target_type, target_id, source FROM follows"
    )
    state.notifications = _rows(
        connection,
        "SELECT n.id, n.event_id, n.account_id, n.kind, n.created_at, n.digest, "
        "m.title_sv, m.title_en FROM notifications n JOIN messages m ON m.id = n.message_id",
    )
    state.muted = {
        (row["account_id"], row["kind"])
        for row in _rows(connection, "SELECT account_id, kind FROM muted_kinds")
    }
    state.preferences = {
        row["account_id"]: {"mode": row["email_mode"], "updated_at": row["updated_at"]}
        for row in _rows(connection, "SELECT account_id, email_mode, updated_at FROM preferences")
    }
    state.locales = {
        row["id"]: row["locale"] for row in _rows(connection, "SELECT id, locale FROM accounts")
    }
    state.emails = _rows(
        connection,
        "SELECT id, account_id, kind, subject, status, created_at, resent_at FROM emails",
    )


def _mail_row(message) -> dict:
    def value(name):
        return message.get(name) if isinstance(message, dict) else getattr(message, name, None)

    to = value("to")
    return {
        "message_id": str(value("message_id") or ""),
        "to": ", ".join(to) if isinstance(to, list | tuple) else str(to or ""),
        "subject": str(value("subject") or ""),
        "received_at": epoch(value("received_at")),
    }


def _read_api_views(platform, history: History, state: State) -> dict:
    """What GET /proposals/{id} and GET /events/{id} show of the round's proposals and
    events (read anonymously, as anyone would)."""
    import requests

    api = f"{platform.base_url.rstrip('/')}/api/v1"
    views = {}
    with requests.Session() as http:
        for proposal in state.proposals:
            if history.tag in proposal["title"]:
                answer = http.get(f"{api}/proposals/{proposal['id']}", timeout=30)
                answer.raise_for_status()
                shown = answer.json()
                views[("proposal", proposal["id"])] = {
                    "support_count": shown["support_count"],
                    "comments": len(shown.get("comments") or ()),
                }
        for event in state.events:
            if history.tag in event["title"]:
                answer = http.get(f"{api}/events/{event['id']}", timeout=30)
                answer.raise_for_status()
                shown = answer.json()
                views[("event", event["id"])] = {
                    "confirmed_count": shown["confirmed_count"],
                    "waitlist_count": shown["waitlist_count"],
                }
    return views


def _read_dead_letters(platform) -> list[dict]:
    import requests

    answer = requests.get(
        f"{platform.base_url.rstrip('/')}/api/v1/staff/dead-letters",
        params={"per_page": 100},
        headers={"Authorization": f"Bearer {platform.staff_token()}"},
        timeout=30,
    )
    answer.raise_for_status()
    items = answer.json()["items"]
    return [
        {
            key: item.get(key)
            for key in ("id", "correlation_id", "type", "queue", "attempts", "error")
        }
        for item in items
    ]
