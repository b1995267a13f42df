"""The staff console's frame and operations screens: `/staff/` (the console's home),
health and dead letters. Staff only (`auth="staff"`: anyone else gets the 403 page).
A mixin of `GatewayService`, like the site's other `*_pages.py`.

Health is `services.gateway.staff.system_health` (each service's `health` RPC, each
instance's own answer, the RabbitMQ management API, the dead-letter count), what is
wrong first (`staff.problems`). It refreshes itself every `REFRESH_SECONDS` with an
HTTP `Refresh` header — a delayed `<meta http-equiv="refresh">` fails WCAG 2.2.1 (and
axe-core's `meta-refresh`) — and the screen has a link to stop it.

Dead letters are read and replayed with `civic.deadletters` (the same kernel part as
the API's `/staff/dead-letters`): one at a time, or all of one handler's queue after a
fix, through a confirmation that says how many. Each replay form carries a form key,
so a double submission replays once (the second gets the first one's answer).
"""

from __future__ import annotations

from datetime import UTC, datetime

from babel import Locale, dates

from civic import config
from civic.clock import to_town, town_zone
from civic.config import DOMAIN_SERVICES
from civic.errors import Conflict, NotFound
from services.gateway import staff
from services.gateway.web.handler import Page, web

REFRESH_SECONDS = 10
DEAD_LETTERS_SHOWN = 200
_ID_MAX = 200
_QUEUE_MAX = 255


def _deadletters():
    from civic import deadletters  # an optional kernel part, as in staff_routes

    return deadletters


def duration_words(page: Page, seconds) -> str | None:
    """`3 d 4 h`, `2 h 5 min`, `4 min`, `12 s`: how long, in the visitor's language."""
    if seconds is None:
        return None
    try:
        seconds = int(float(seconds))
    except (TypeError, ValueError):
        return None
    days, rest = divmod(max(seconds, 0), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return page.gettext("%(days)s d %(hours)s h", days=days, hours=hours)
    if hours:
        return page.gettext("%(hours)s h %(minutes)s min", hours=hours, minutes=minutes)
    if minutes:
        return page.gettext("%(minutes)s min", minutes=minutes)
    return page.gettext("%(seconds)s s", seconds=secs)


def precise_time(page: Page, value) -> str | None:
    """A moment to the second, in the town's time: `2 dec. 2026 07:14:05`."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return dates.format_datetime(
        to_town(moment), "d MMM y HH:mm:ss", tzinfo=town_zone(), locale=Locale.parse(page.lang)
    )


_DETAIL_LINES = ("[SQL:", "[parameters:", "(Background on this error")


def error_line(error) -> str | None:
    """The gist of a handler's error: the exception and its message, without the
    detail that follows (an SQL statement, its parameters, a link)."""
    lines = [
        line.strip()
        for line in str(error or "").splitlines()
        if line.strip() and not line.strip().startswith(_DETAIL_LINES)
    ]
    return " ".join(lines[:2])[:400] if lines else None


def problem_words(page: Page, problem: dict) -> str:
    """One problem of `staff.problems`, said for staff."""
    kind, service, count = problem["kind"], problem["service"], problem["count"]
    if kind == "down":
        return page.gettext("%(service)s does not answer.", service=service)
    if kind == "degraded":
        return page.gettext("%(service)s answers, but its database does not.", service=service)
    if kind == "no_instances":
        return page.gettext("No instance of %(service)s answered.", service=service)
    if kind == "instances_silent":
        return page.ngettext(
            "%(num)s instance of %(service)s is connected but does not answer.",
            "%(num)s instances of %(service)s are connected but do not answer.",
            count,
            service=service,
        )
    if kind == "outbox_parked":
        return page.ngettext(
            "%(service)s has %(num)s parked outbox row: an event it could not publish.",
            "%(service)s has %(num)s parked outbox rows: events it could not publish.",
            count,
            service=service,
        )
    if kind == "outbox_behind":
        return page.gettext(
            "%(service)s has not published an event for %(age)s: its outbox is behind.",
            service=service,
            age=duration_words(page, count),
        )
    if kind == "queue_without_consumer":
        return page.gettext("A queue of %(service)s has no consumer.", service=service)
    if kind == "dead_letters":
        return page.ngettext(
            "%(num)s dead letter waits: a message no handler could handle.",
            "%(num)s dead letters wait: messages no handler could handle.",
            count,
        )
    if kind == "dead_letters_unknown":
        return page.gettext("The dead letters cannot be counted: the broker does not answer.")
    if kind == "orphaned_queues":
        return page.ngettext(
            "%(num)s orphaned queue: no handler consumes it.",
            "%(num)s orphaned queues: no handler consumes them.",
            count,
        )
    return page.gettext("The RabbitMQ management API cannot be asked: queues are not shown.")


def problem_link(problem: dict) -> str:
    kind = problem["kind"]
    if kind in ("dead_letters", "dead_letters_unknown"):
        return "/staff/dead-letters"
    if kind == "orphaned_queues":
        return "/staff/health#orphaned-queues"
    if problem["service"]:
        return f"/staff/health#service-{problem['service']}"
    return "/staff/health"


class StaffConsolePages:
    """Entrypoints of the staff console's home and operations screens."""

    def _health_view(self, page: Page) -> dict:
        report = staff.system_health(
            self.services,
            DOMAIN_SERVICES,
            config.get("RABBIT_MANAGEMENT_URI"),
            config.get("AMQP_URI"),
        )
        found = staff.problems(report)
        services = []

        def with_uptime(instances):
            if instances is None:
                return None
            return [
                {**item, "uptime": duration_words(page, item.get("uptime_s"))} for item in instances
            ]

        for name, entry in report["services"].items():
            wrong = staff.service_problems(entry)
            instances = entry.get("instances")
            services.append(
                {
                    "name": name,
                    "entry": entry,
                    "problems": wrong,
                    "oldest_unsent": duration_words(page, staff.outbox_oldest_age(entry)),
                    "instances": with_uptime(instances),
                    "queues": None
                    if entry["queues"] is None
                    else [
                        {**queue, "problems": staff.queue_problems(queue)}
                        for queue in staff.folded_queues(entry["queues"])
                    ],
                }
            )
        # What is wrong first; then by name.
        services.sort(key=lambda item: (not item["problems"], item["name"]))
        return {
            "report": report,
            "services": services,
            "problems": [
                {**problem, "words": problem_words(page, problem), "link": problem_link(problem)}
                for problem in found
            ],
            "gateway_instances": with_uptime(report["gateway"]["instances"]),
        }

    @web("GET", "/staff/", auth="staff")
    def web_staff_home(self, page: Page):
        view = self._health_view(page)
        report = view["report"]
        entries = report["services"].values()
        return page.render(
            "staff/home.html",
            **view,
            services_up=sum(1 for entry in entries if entry.get("status") != "down"),
            services_total=len(report["services"]),
            parked=sum(entry.get("outbox_parked") or 0 for entry in entries),
        )

    @web("GET", "/staff/health", auth="staff")
    def web_staff_health(self, page: Page):
        refreshing = page.args.get("refresh") != "off"
        response = page.render(
            "staff/health.html",
            **self._health_view(page),
            refreshing=refreshing,
            refresh_seconds=REFRESH_SECONDS,
        )
        if refreshing:
            response.headers["Refresh"] = str(REFRESH_SECONDS)
        return response

    # --- dead letters ---------------------------------------------------------------

    @web("GET", "/staff/dead-letters", auth="staff")
    def web_staff_dead_letters(self, page: Page):
        deadletters = _deadletters()
        amqp_uri = config.get("AMQP_URI")
        items = [
            {
                **item,
                "failed_at_text": precise_time(page, item.get("failed_at")),
                "first_failed_at_text": precise_time(page, item.get("first_failed_at")),
                "error_line": error_line(item.get("error")),
            }
            for item in deadletters.list_dead_letters(amqp_uri, limit=DEAD_LETTERS_SHOWN)
        ]
        # Counted once the listing has let go of what it read (it holds them meanwhile).
        total = max(deadletters.count_dead_letters(amqp_uri), len(items))
        by_queue: dict[str, dict] = {}
        for item in items:
            queue = item.get("queue") or ""
            group = by_queue.setdefault(
                queue, {"queue": queue, "handler": item.get("handler"), "count": 0}
            )
            group["count"] += 1
        return page.render(
            "staff/dead_letters.html",
            items=items,
            total=total,
            handlers=sorted(by_queue.values(), key=lambda group: group["queue"]),
            shown=DEAD_LETTERS_SHOWN,
        )

    @web("POST", "/staff/dead-letters/<dead_letter_id>/replay", auth="staff")
    def web_staff_replay_dead_letter(self, page: Page, dead_letter_id):
        if len(dead_letter_id) > _ID_MAX:
            raise NotFound("no such dead letter")
        try:
            replayed = _deadletters().replay(config.get("AMQP_URI"), dead_letter_id)
        except NotFound:
            return page.redirect(
                "/staff/dead-letters",
                page.gettext(
                    "That dead letter is no longer waiting: it was replayed already, "
                    "or the list was out of date."
                ),
            )
        except Conflict:
            return page.redirect(
                "/staff/dead-letters",
                page.gettext(
                    "That dead letter cannot be replayed: the queue it failed on no longer exists."
                ),
            )
        return page.redirect(
            "/staff/dead-letters",
            page.gettext(
                "The dead letter was sent back to %(queue)s. If its handler fails again, "
                "it comes back here.",
                queue=replayed["queue"],
            ),
        )

    @web("GET", "/staff/dead-letters/replay-all", auth="staff")
    def web_staff_replay_all_confirm(self, page: Page):
        queue = (page.args.get("queue") or "").strip()
        if not queue or len(queue) > _QUEUE_MAX:
            raise NotFound("no handler's queue was named")
        count = _deadletters().count_for_queue(config.get("AMQP_URI"), queue)
        return page.render(
            "staff/dead_letters_replay_all.html",
            queue=queue,
            count=count,
            back="/staff/dead-letters",
        )

    @web("POST", "/staff/dead-letters/replay-all", auth="staff")
    def web_staff_replay_all(self, page: Page):
        queue = (page.form.get("queue") or "").strip()
        if not queue or len(queue) > _QUEUE_MAX:
            raise NotFound("no handler's queue was named")
        try:
            done = _deadletters().replay_queue(config.get("AMQP_URI"), queue)
        except Conflict:
            return page.redirect(
                "/staff/dead-letters",
                page.gettext(
                    "The dead letters of %(queue)s cannot be replayed: that queue no "
                    "longer exists.",
                    queue=queue,
                ),
            )
        return page.redirect(
            "/staff/dead-letters",
            page.ngettext(
                "%(num)s dead letter was sent back to %(queue)s.",
                "%(num)s dead letters were sent back to %(queue)s.",
                done["replayed"],
                queue=queue,
            ),
        )
