"""The staff console's trace screen: `/staff/trace/<correlation_id>`, one request's whole
story across services in time order, and `/staff/trace`, its search. Staff only
(`auth="staff"`: anyone else gets the 403 page). A mixin of `GatewayService`.

The story is every service's log records for the correlation id, asked of every running
instance of every service (`civic.instances.trace_answers`: each instance answers for
its own log lines, wherever it runs), merged, and told as steps: the HTTP request (the
gateway's access line), each RPC call and each event handler with its duration (their
`worker_done`), each event published and who consumed it, retries and dead letters,
emails sent. A step starts at its line's time minus its duration (a line is written when
its work ends), so the request comes before the calls it made. Each step opens to its
full JSON record (`<details>`: no JavaScript).

The search takes a correlation id (straight to its story), a proposal's reference (the
proposals service's `find_proposal`) or an account's email address (the groups service's
`find_account`); for those two it lists the stories whose lines mention the proposal's or
the account's id (`civic.instances.find`). Each search is logged with its kind — never
the address searched for.
"""

from __future__ import annotations

import json
from datetime import timedelta

from civic import clock, config, instances
from civic.errors import NotFound, ValidationError
from civic.log import get_logger
from services.gateway.web.handler import Page, web
from services.proposals.api import normal_reference

log = get_logger("civic.gateway.staff_trace")

TRACE_TIMEOUT = 3.0
SEARCH_MAX = 254

# Log events that are a step of their own kind (the rest are "other": shown as they are).
RETRY_EVENTS = {"handler_failed_will_retry"}
DEAD_LETTER_EVENTS = {"handler_failed_dead_lettered", "message_unreadable", "message_undecodable"}
EMAIL_EVENTS = {"email_sent": "email", "email_attempt_failed": "email_retry"}
EMAIL_FAILED = {"email_failed"}
PUBLISHED_EVENTS = {"event_stored", "event_published", "outbox_published"}
WORKER_EVENTS = {"worker_done", "worker_failed"}


def _duration(record: dict) -> float | None:
    value = record.get("duration_ms")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return None


def _kind(record: dict) -> str:
    event = record.get("event")
    if event == "http_request":
        return "http"
    if event in WORKER_EVENTS:
        if record.get("event_type"):
            return "handler"
        if record.get("service") == "gateway":
            return "gateway"
        return "rpc"
    if event in RETRY_EVENTS:
        return "retry"
    if event in DEAD_LETTER_EVENTS:
        return "dead_letter"
    if event in EMAIL_EVENTS:
        return EMAIL_EVENTS[event]
    if event in EMAIL_FAILED:
        return "email_failed"
    if event in PUBLISHED_EVENTS:
        return "event"
    return "other"


def _method(record: dict) -> str:
    """`proposals.submit_proposal` → `submit_proposal`."""
    entrypoint = str(record.get("entrypoint") or "")
    return entrypoint.split(".", 1)[1] if "." in entrypoint else entrypoint


def story(records: list[dict]) -> list[dict]:
    """The steps of one correlation id's records, in the order their work started."""
    steps = []
    for position, record in enumerate(records):
        end = instances.record_time(record)
        duration = _duration(record)
        kind = _kind(record)
        start = clock.from_iso(record.get("started_at"))  # a worker's own start, if given
        if start is None:
            start = end - timedelta(milliseconds=duration) if duration is not None else end
        steps.append(
            {
                "kind": kind,
                "start": start,
                "end": end,
                "position": position,
                "service": str(record.get("service") or "–"),
                "entrypoint": str(record.get("entrypoint") or ""),
                "method": _method(record),
                "event": str(record.get("event") or ""),
                "event_type": record.get("event_type"),
                "event_source": record.get("event_source"),
                "message_id": record.get("message_id"),
                "duration_ms": duration,
                "outcome": record.get("outcome") or record.get("status"),
                "level": str(record.get("level") or "info").lower(),
                "record": record,
                "derived": False,
            }
        )
    steps.extend(_published(steps))
    steps.sort(key=lambda step: (step["start"], step["position"]))
    if steps:
        first = steps[0]["start"]
        for step in steps:
            step["offset_ms"] = round((step["start"] - first).total_seconds() * 1000, 1)
            step["json"] = json.dumps(step["record"], indent=2, ensure_ascii=False, default=str)
    return steps


def _published(steps: list[dict]) -> list[dict]:
    """An "event published" step for each event its handlers consumed, when no line of
    the producer says it: placed at the end of the producer's last call before the first
    handler started (its commit, which publishes through the outbox)."""
    logged = {step["message_id"] for step in steps if step["kind"] == "event"}
    handlers: dict[str, list[dict]] = {}
    for step in steps:
        if step["kind"] in ("handler", "retry", "dead_letter") and step["message_id"]:
            handlers.setdefault(step["message_id"], []).append(step)
    made = []
    for message_id, consumed in handlers.items():
        if message_id in logged:
            continue
        first = min(step["start"] for step in consumed)
        source = next((step["event_source"] for step in consumed if step["event_source"]), None)
        producers = [
            step
            for step in steps
            if step["kind"] == "rpc" and step["service"] == source and step["end"] <= first
        ]
        at = max(step["end"] for step in producers) if producers else first
        made.append(
            {
                "kind": "event",
                "start": at,
                "end": at,
                "position": min(step["position"] for step in consumed) - 0.5,
                "service": source or "–",
                "entrypoint": "",
                "method": "",
                "event": "event_published",
                "event_type": consumed[0]["event_type"],
                "event_source": source,
                "message_id": message_id,
                "duration_ms": None,
                "outcome": None,
                "level": "info",
                "record": {
                    "event_type": consumed[0]["event_type"],
                    "producer": source,
                    "message_id": message_id,
                    "consumed_by": sorted({step["entrypoint"] for step in consumed}),
                    "note": "told by the lines of the handlers that consumed it",
                },
                "derived": True,
            }
        )
    return made


def events_of(steps: list[dict]) -> list[dict]:
    """Each event of the story with every handler that consumed it (and how it went)."""
    events: dict[str, dict] = {}
    for step in steps:
        if step["kind"] == "event" and step["message_id"]:
            events.setdefault(
                step["message_id"],
                {
                    "message_id": step["message_id"],
                    "type": step["event_type"],
                    "source": step["event_source"],
                    "handlers": [],
                },
            )
    for step in steps:
        if step["kind"] in ("handler", "retry", "dead_letter") and step["message_id"] in events:
            events[step["message_id"]]["handlers"].append(step)
    return list(events.values())


def search_kind(value: str) -> str | None:
    """What a search is: "email", "reference", "correlation_id", or None."""
    if "@" in value:
        return "email"
    if normal_reference(value) is not None:
        return "reference"
    if instances.valid_correlation_id(value):
        return "correlation_id"
    return None


class StaffTracePages:
    """Entrypoints of the trace screen and its search."""

    @web("GET", "/staff/trace", auth="staff")
    def web_staff_trace_search(self, page: Page):
        query = (page.args.get("q") or "").strip()
        if not query:
            return page.render("staff/trace_search.html", query="", kind=None, found=None)
        kind = search_kind(query) if len(query) <= SEARCH_MAX else None
        # Logged without what was searched for: an email address is personal data.
        log.info("staff_trace_search", kind=kind or "unrecognised")
        if kind is None:
            return page.render(
                "staff/trace_search.html",
                status=400,
                query=query,
                kind=None,
                found=None,
                error=page.gettext(
                    "Enter a correlation id, a proposal's reference (like JKM-7F3K2) "
                    "or an account's email address."
                ),
            )
        if kind == "correlation_id":
            return page.redirect(f"/staff/trace/{query}")
        subject = None
        try:
            if kind == "reference":
                proposal = self.services.proposals.find_proposal(page.actor, query)
                mention, subject = proposal["id"], proposal.get("reference") or query
            else:
                account = self.services.groups.find_account(page.actor, query)
                mention, subject = account["id"], account.get("display_name") or ""
        except (NotFound, ValidationError):
            return page.render(
                "staff/trace_search.html",
                status=404,
                query=query,
                kind=kind,
                found=None,
                error=page.gettext("No proposal has that reference.")
                if kind == "reference"
                else page.gettext("No account has that email address."),
            )
        answers = self._ask(lambda: instances.find(mention, timeout=TRACE_TIMEOUT))
        found = None
        if answers is not None:
            found = [
                {**item, "first": instances.record_time({"ts": item["first_ts"]})}
                for item in answers.found
            ]
        return page.render(
            "staff/trace_search.html",
            query=query,
            kind=kind,
            subject=subject,
            found=found,
            missing=answers.missing if answers is not None else {},
        )

    @web("GET", "/staff/trace/<correlation_id>", auth="staff")
    def web_staff_trace(self, page: Page, correlation_id):
        if not instances.valid_correlation_id(correlation_id):
            raise NotFound("not a correlation id")
        answers = self._ask(lambda: instances.trace_answers(correlation_id, timeout=TRACE_TIMEOUT))
        steps = story(answers.records) if answers is not None else []
        return page.render(
            "staff/trace.html",
            query="",
            correlation_id=correlation_id,
            unavailable=answers is None,
            steps=steps,
            events=events_of(steps),
            answered=sorted(answers.instances, key=lambda item: item["service"])
            if answers is not None
            else [],
            missing=answers.missing if answers is not None else {},
            total_ms=round((steps[-1]["end"] - steps[0]["start"]).total_seconds() * 1000, 1)
            if steps
            else None,
        )

    def _ask(self, question):
        """The instances' answers, or None when the broker cannot be asked."""
        if not config.get("AMQP_URI"):
            return None
        try:
            return question()
        except Exception as exc:  # noqa: BLE001 - the page says the story is unavailable
            log.warning("trace_unavailable", error=type(exc).__name__)
            return None
