"""What staff see of the running system: each service's health answer and its queues.

Each service is asked for `health` with a short timeout, all at once; one that does not
answer is reported `down`. Queue depths and consumers come from the RabbitMQ management
API; when that cannot be asked, the services are still reported, with `queues: null`.
"""

from __future__ import annotations

from nameko.rpc import RPC_QUEUE_TEMPLATE

from civic import topology
from civic.log import get_logger
from civic.messaging import queue_owner
from services.gateway.fanout import fan_out

log = get_logger(__name__)

HEALTH_TIMEOUT = 2.0
MANAGEMENT_TIMEOUT = 3.0
_MANAGEMENT = object()  # the fan-out target standing for the management API


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


def system_health(
    service_clients, names, management_uri: str, amqp_uri: str, timeout: float = HEALTH_TIMEOUT
) -> dict:
    def ask(target):
        if target is _MANAGEMENT:
            try:
                return topology.management_queues(
                    management_uri, amqp_uri, timeout=MANAGEMENT_TIMEOUT
                )
            except Exception as exc:  # reported, not raised: health must always answer
                log.warning("management_api_failed", error=type(exc).__name__)
                return exc
        return _health_of(service_clients, target, timeout)

    *health_answers, queues = fan_out(ask, [*names, _MANAGEMENT])
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
        queues = by_service[name] if by_service is not None else None
        entry["queues"] = queues
        entry["queue_totals"] = (
            None
            if queues is None
            else {
                "messages": sum(queue["messages"] for queue in queues),
                "consumers": sum(queue["consumers"] for queue in queues),
            }
        )
        report[name] = entry
    return {"services": report, "management": management, "orphaned_queues": orphaned}
