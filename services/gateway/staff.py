"""What staff see of the running system: each service's health answer and its queues.

Each service is asked for `health` with a short timeout, all at once; one that does not
answer is reported `down`. Each running instance of a service answers for itself too
(`civic.instances.survey`, when the kernel has it): its host, pid, version and uptime.
Queue depths, consumers and message rates come from the RabbitMQ management API; when
that cannot be asked, the services are still reported, with `queues: null`. The
dead-letter count is asked of the broker itself (exact at once: the management API's
figures are up to a few seconds old).

`problems` turns the report into what is wrong, most urgent first: the console's home
and the health screen show those in red before everything else.
"""

from __future__ import annotations

from datetime import UTC, datetime

from nameko.rpc import RPC_QUEUE_TEMPLATE

from civic import instances, topology
from civic.clock import utcnow
from civic.log import get_logger
from civic.messaging import DEAD_LETTER_QUEUE, queue_owner
from services.gateway.fanout import fan_out

log = get_logger(__name__)

HEALTH_TIMEOUT = 2.0
# An unsent outbox row older than this: the service's relay is behind (or stuck).
OUTBOX_BEHIND_SECONDS = 60.0
GATEWAY = "gateway"  # answers for its instances too, but has no `health` RPC
MANAGEMENT_TIMEOUT = 3.0
_MANAGEMENT = object()  # the fan-out target standing for the management API
_DEAD_LETTERS = object()  # … and for the dead-letter queue's count
_INSTANCES = object()  # … and for the question every running instance answers


# The management API's columns for a queue: depth, consumers and message rates.
def owns_queue(service: str, queue: str) -> bool:
    """The service's RPC queue (nameko's `rpc-<service>`), or an event queue
    `...--<service>.<method>` (and its `.retry-<ms>ms` queues, where failed messages wait
    for their next attempt)."""
    return queue == RPC_QUEUE_TEMPLATE.format(service) or queue_owner(queue) == service


def queues_by_service(queues: list[dict], services) -> dict[str, list[dict]]:
    return {
        service: sorted(
            (queue for queue in queues if owns_queue(service, queue["name"])),
            key=lambda queue: queue["name"],
        )
        for service in services
    }


def _health_of(service_clients, name: str, timeout: float) -> dict:
    try:
        answer = service_clients[name].health(timeout=timeout)
    except Exception as exc:  # down, slow, or broken: all are "down" to staff
        log.warning("health_unanswered", target=name, error=type(exc).__name__)
        return {"status": "down"}
    return answer if isinstance(answer, dict) else {"status": "down"}


def _instances_of(names: list[str], timeout: float, amqp_uri: str):
    """`{service: {"instances": [...], "listening": n}}` — each running instance's own
    answer, and how many the broker counts as listening (an instance counted but not
    answering is stuck) — or None when the broker cannot be asked."""
    try:
        answers = instances.ask(names, "identity", timeout=timeout, amqp_uri=amqp_uri)
    except Exception as exc:  # reported as unknown, never raised
        log.warning("instances_unanswered", error=type(exc).__name__)
        return None
    found = {}
    for name in names:
        mine = [dict(item) for item in answers.instances if item.get("service") == name]
        mine.sort(key=lambda item: (str(item.get("host")), str(item.get("pid"))))
        found[name] = {"instances": mine, "listening": answers.expected.get(name, len(mine))}
    return found


def _dead_letter_count(amqp_uri: str):
    from civic import deadletters  # an optional kernel part, as in staff_routes

    try:
        return deadletters.count_dead_letters(amqp_uri)
    except Exception as exc:
        log.warning("dead_letter_count_failed", error=type(exc).__name__)
        return None


def system_health(
    service_clients, names, management_uri: str, amqp_uri: str, timeout: float = HEALTH_TIMEOUT
) -> dict:
    names = list(names)

    def ask(target):
        if target is _MANAGEMENT:
            try:
                return topology.management_queues(
                    management_uri, amqp_uri, timeout=MANAGEMENT_TIMEOUT
                )
            except Exception as exc:  # reported, not raised: health must always answer
                log.warning("management_api_failed", error=type(exc).__name__)
                return exc
        if target is _DEAD_LETTERS:
            return _dead_letter_count(amqp_uri)
        if target is _INSTANCES:
            return _instances_of([*names, GATEWAY], timeout, amqp_uri)
        return _health_of(service_clients, target, timeout)

    *health_answers, queues, dead_letter_count, instances = fan_out(
        ask, [*names, _MANAGEMENT, _DEAD_LETTERS, _INSTANCES]
    )
    answers = dict(zip(names, health_answers, strict=True))
    if isinstance(queues, Exception):
        by_service = None
        orphaned = None
        management = {
            "ok": False,
            "error": f"the RabbitMQ management API could not be asked ({type(queues).__name__})",
        }
    else:
        by_service = queues_by_service(queues, names)
        # Queues of Civic's naming no current handler declares (a renamed or removed
        # handler's): their messages wait for nobody.
        orphaned = topology.orphans(queues)
        management = {"ok": True, "error": None}
    report = {}
    for name in names:
        entry = {key: value for key, value in answers[name].items() if key != "service"}
        own = by_service[name] if by_service is not None else None
        entry["queues"] = own
        entry["queue_totals"] = (
            None
            if own is None
            else {
                "messages": sum(queue["messages"] for queue in own),
                "consumers": sum(queue["consumers"] for queue in own),
            }
        )
        # Each running instance answering for itself (None: not known).
        known = instances.get(name) if instances is not None else None
        entry["instances"] = known["instances"] if known else None
        entry["instances_listening"] = known["listening"] if known else None
        report[name] = entry
    gateway = instances.get(GATEWAY) if instances is not None else None
    return {
        "services": report,
        "gateway": {
            "instances": gateway["instances"] if gateway else None,
            "instances_listening": gateway["listening"] if gateway else None,
        },
        "management": management,
        "orphaned_queues": orphaned,
        "dead_letters": {"count": dead_letter_count, "queue": DEAD_LETTER_QUEUE},
    }


# --- what is wrong ------------------------------------------------------------------------


def _is_retry_queue(name: str) -> bool:
    return ".retry-" in name


def folded_queues(queues: list[dict]) -> list[dict]:
    """Each queue a handler consumes, with its retry queues folded into it: `retrying`
    is how many of its messages wait out a retry delay (the rest as the queue is)."""
    main: dict[str, dict] = {}
    retrying: dict[str, int] = {}
    for queue in queues:
        name = queue["name"]
        if _is_retry_queue(name):
            base = name.split(".retry-", 1)[0]
            retrying[base] = retrying.get(base, 0) + queue["messages"]
        else:
            main[name] = dict(queue)
    for base, count in retrying.items():
        main.setdefault(base, {"name": base, "messages": 0, "consumers": 0, "missing": True})[
            "retrying"
        ] = count
    return [{**queue, "retrying": queue.get("retrying", 0)} for _, queue in sorted(main.items())]


def queue_problems(queue: dict) -> list[str]:
    """What is wrong with one queue of a service: messages that nobody takes."""
    found = []
    if queue["consumers"] == 0 and not _is_retry_queue(queue["name"]):
        found.append("no_consumer")
    return found


def outbox_oldest_age(entry: dict):
    """The age in seconds of the service's oldest unsent outbox row, when its health
    answer says (`outbox_oldest_unsent_age_s`, or that row's `outbox_oldest_unsent_at`)."""
    if isinstance(entry.get("outbox_oldest_unsent_age_s"), (int, float)):
        return float(entry["outbox_oldest_unsent_age_s"])
    created = entry.get("outbox_oldest_unsent_at")
    if not created:
        return None
    try:
        moment = datetime.fromisoformat(str(created))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (utcnow() - moment).total_seconds())


def service_problems(entry: dict) -> list[str]:
    """What is wrong with one service's entry of the report, as codes (the pages say
    them in words): `down`, `degraded`, `no_instances`, `instances_silent`,
    `outbox_parked`, `outbox_behind`, `queue_without_consumer`."""
    found = []
    status = entry.get("status")
    if status == "down":
        found.append("down")
    elif status != "ok":
        found.append("degraded")
    instances = entry.get("instances")
    if instances is not None and not instances and status != "down":
        found.append("no_instances")
    listening = entry.get("instances_listening")
    if instances is not None and listening is not None and len(instances) < listening:
        found.append("instances_silent")
    if entry.get("outbox_parked"):
        found.append("outbox_parked")
    age = outbox_oldest_age(entry)
    if age is not None and age > OUTBOX_BEHIND_SECONDS:
        found.append("outbox_behind")
    if any(queue_problems(queue) for queue in entry.get("queues") or ()):
        found.append("queue_without_consumer")
    return found


def problems(report: dict) -> list[dict]:
    """Everything wrong in a `system_health` report, most urgent first:
    `[{kind, service, count}]` (`service` None for the system as a whole)."""
    found = []
    for name, entry in sorted(report["services"].items()):
        for kind in service_problems(entry):
            count = {
                "outbox_parked": entry.get("outbox_parked"),
                "outbox_behind": outbox_oldest_age(entry),
                "instances_silent": (entry.get("instances_listening") or 0)
                - len(entry.get("instances") or ()),
            }.get(kind)
            found.append({"kind": kind, "service": name, "count": count})
    dead = (report.get("dead_letters") or {}).get("count")
    if dead:
        found.append({"kind": "dead_letters", "service": None, "count": dead})
    elif dead is None:
        found.append({"kind": "dead_letters_unknown", "service": None, "count": None})
    orphaned = report.get("orphaned_queues")
    if orphaned:
        found.append({"kind": "orphaned_queues", "service": None, "count": len(orphaned)})
    if not report["management"]["ok"]:
        found.append({"kind": "management", "service": None, "count": None})
    urgency = {
        "down": 0,
        "degraded": 1,
        "no_instances": 2,
        "instances_silent": 2,
        "dead_letters": 3,
        "outbox_parked": 4,
        "outbox_behind": 4,
        "queue_without_consumer": 5,
        "orphaned_queues": 6,
        "dead_letters_unknown": 7,
        "management": 8,
    }
    return sorted(found, key=lambda item: urgency[item["kind"]])
