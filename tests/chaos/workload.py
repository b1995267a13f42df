"""The chaos suite's workload: concurrent residents using Civic through its public API.

`run_workload(base_url, clients=…, operations=…, seed=…)` plays one round and returns its
`History` (history.py): every request, what it meant to add or remove, and what the
client was told. Plain threads and `requests` (no eventlet): one thread and one HTTP
session per client, each client its own new account, so that every client's requests
about a thing are sequential and the checker can replay them in order.

A round has two parts:

1. **Setup**, one request at a time, each retried (same Idempotency-Key) until it is
   answered, every attempt recorded: staff and the demo business admin sign in (demo
   data: `demo/__init__.py`), `clients` new accounts `<tag>-<n>@chaos.example` register
   and sign in, each sets its email preference to `immediate` (and so does the business
   admin) so that notifications become emails at once, and staff schedule three events of
   capacity 2 for the demo working group "Trafik och gator" (a month ahead: no reminder
   falls in the run). The demo proposals, open groups and openings join the pools.
2. **Load**: each client does `operations / clients` random operations — submit, support,
   withdraw support, comment on proposals; create open groups, join and leave open
   groups (also join-then-leave at once), ask to join the closed demo association and
   take the request back; register and cancel at the small events (also at once:
   waiting lists, promotions, facts close together for a reordering broker); post
   openings as the demo business admin and express interest; follow and unfollow
   proposals. A client only removes what it added itself and never leaves a group it
   created, so that nothing happens to a thing that nobody asked for (the checker's
   "unexpected"). Each client waits a little after each request (`pause`) so that the
   load spans the round's fault; `stop` ends it early.

Every request carries `X-Correlation-ID: <tag>-<client>-<n>` and every POST an
`Idempotency-Key` of the same shape (the API's contract; an old gateway ignores it);
`poison_every=N` marks every N-th comment or support with `X-Correlation-ID:
chaos-poison-<tag>-<n>` instead (the poison round's notifications kill their worker on
such events; comments and supports are consumed by notifications only), at most
`poison_limit` of them: each costs a few deaths of notifications (1 + len(retry delays)
per queue it reaches, a restart each), so the round's length follows their number, not
the machine's speed.

A load request whose outcome is unknown (timeout, dropped connection, 5xx) is sent again
once a second later, with the same Idempotency-Key and body, as a client told "503, try
again" would (`retries`): where the first try did happen after all, a server that does
not honour the key does it twice — the checker's "duplicated".

Everything the workload creates carries the round's tag (titles, names, bodies, emails),
so rounds on one platform do not mix and the checker finds a round's things by it.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta

import requests

from tests.chaos.history import ADD, NONE, OK, REMOVE, UNKNOWN, History, Operation, outcome_of

DEMO_PASSWORD = "jokkmokk-demo-2026"
STAFF_EMAIL = "staff@jokkmokk.example"
# Admin of the verified business "Jokkmokks viltpark" (demo data).
BUSINESS_ADMIN_EMAIL = "ingrid.pavval@jokkmokk.example"
BUSINESS_NAME = "Jokkmokks viltpark"
ORGANISER_GROUP = "Trafik och gator"
CLOSED_GROUP = "Jokkmokks hembygdsförening"
ACCOUNT_PASSWORD = "chaos-password-2026"
EVENTS = 3
EVENT_CAPACITY = 2
SETUP_DEADLINE = 180.0
SETUP_RETRY_S = 1.0  # between two tries of a setup request
RETRY_WAIT_S = 1.0  # before a load request with an unknown outcome is sent again
POISON_KINDS = ("comment", "support")

# Relative weights of each operation in the load.
WEIGHTS = {
    "submit_proposal": 10,
    "support": 14,
    "withdraw_support": 3,
    "comment": 14,
    "create_group": 4,
    "join_group": 8,
    "leave_group": 4,
    "join_and_leave": 3,
    "request_join": 2,
    "withdraw_request": 1,
    "register_event": 10,
    "cancel_registration": 5,
    "register_and_cancel": 3,
    "post_opening": 3,
    "interest": 8,
    "follow": 5,
    "unfollow": 2,
}


class SetupFailed(RuntimeError):
    """The platform did not let the workload set up within SETUP_DEADLINE."""


def new_tag(seed: int) -> str:
    return f"chaos-{seed}-{uuid.uuid4().hex[:6]}"


class Pools:
    """What clients may act on, shared between the client threads."""

    def __init__(self):
        self._lock = threading.Lock()
        self.proposals: list[str] = []
        self.groups: list[str] = []  # open groups
        self.events: list[str] = []
        self.openings: list[str] = []

    def add(self, pool: str, value: str) -> None:
        with self._lock:
            getattr(self, pool).append(value)

    def pick(self, pool: str, rng: random.Random) -> str | None:
        with self._lock:
            values = getattr(self, pool)
            return rng.choice(values) if values else None


class Round:
    """One round of the workload: its HTTP settings, history and shared pools."""

    def __init__(
        self,
        base_url: str,
        tag: str,
        timeout: float,
        password: str,
        say,
        poison_every: int | None = None,
        retries: int = 1,
        poison_limit: int | None = None,
    ):
        # Several gateways (a cluster run): client n talks to gateway n mod their count.
        urls = [base_url] if isinstance(base_url, str) else list(base_url)
        self.apis = [f"{url.rstrip('/')}/api/v1" for url in urls]
        self.api = self.apis[0]
        self.tag = tag
        self.timeout = timeout
        self.password = password
        self.say = say
        self.history = History(tag=tag)
        self.pools = Pools()
        self.staff_token: str | None = None
        self.business_token: str | None = None
        self.business_group_id: str | None = None
        self.organiser_group_id: str | None = None
        self.closed_group_id: str | None = None
        self._poison_lock = threading.Lock()
        self._poison_seen = 0
        self._poison_every = poison_every
        self._poison_limit = poison_limit
        self.retries = retries

    # --- one request ----------------------------------------------------------------

    def request(
        self,
        http: requests.Session,
        client: int,
        sequence: int,
        kind: str,
        method: str,
        path: str,
        *,
        token: str | None = None,
        body: dict | None = None,
        actor_id: str | None = None,
        effect: tuple | None = None,
        action: str = NONE,
        idempotency_key: str | None = None,
    ) -> Operation:
        correlation_id = f"{self.tag}-{client}-{sequence}"
        if kind in POISON_KINDS and self._poisoned():
            correlation_id = f"chaos-poison-{self.tag}-{client}-{sequence}"
        headers = {"X-Correlation-ID": correlation_id}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if method == "POST":
            idempotency_key = idempotency_key or f"{self.tag}-{client}-{sequence}"
            headers["Idempotency-Key"] = idempotency_key
        operation = Operation(
            client=client,
            kind=kind,
            method=method,
            path=path,
            body=body,
            actor_id=actor_id,
            effect=effect,
            action=action,
            idempotency_key=idempotency_key if method == "POST" else None,
            correlation_id=correlation_id,
            started_at=time.time(),
        )
        try:
            response = http.request(
                method,
                self.apis[client % len(self.apis)] + path,
                json=body if method in ("POST", "PUT", "PATCH") else None,
                headers=headers,
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            operation.error = f"{type(exc).__name__}: {str(exc)[:200]}"
            operation.outcome = UNKNOWN
        else:
            operation.status = response.status_code
            operation.outcome = outcome_of(response.status_code)
            try:
                operation.response = response.json() if response.content else None
            except ValueError:
                operation.response = None
                operation.error = response.text[:200]
        operation.ended_at = time.time()
        return self.history.record(operation)

    def _poisoned(self) -> bool:
        if not self._poison_every:
            return False
        with self._poison_lock:
            marked = self._poison_seen // self._poison_every
            if self._poison_limit is not None and marked >= self._poison_limit:
                return False
            self._poison_seen += 1
            return self._poison_seen % self._poison_every == 0

    def until_answered(self, http, client: int, sequence: int, kind, method, path, **kwargs):
        """Setup: the request again (same Idempotency-Key) until it is answered with
        anything but an unknown outcome."""
        deadline = time.monotonic() + SETUP_DEADLINE
        key = f"{self.tag}-{client}-{sequence}" if method == "POST" else None
        while True:
            operation = self.request(
                http, client, sequence, kind, method, path, idempotency_key=key, **kwargs
            )
            if operation.outcome != UNKNOWN:
                return operation
            if time.monotonic() > deadline:
                raise SetupFailed(f"{method} {path}: no answer within {SETUP_DEADLINE:.0f}s")
            time.sleep(SETUP_RETRY_S)

    # --- setup ----------------------------------------------------------------------

    def set_up(self, clients: int) -> list[Client]:
        http = requests.Session()
        setup = Sequence()
        self.staff_token = self._sign_in(http, setup, STAFF_EMAIL, self.password)
        self.business_token = self._sign_in(http, setup, BUSINESS_ADMIN_EMAIL, self.password)
        self._set_immediate(http, setup, self.business_token)
        groups = self._all_groups(http, setup)
        by_name = {group["name"]: group for group in groups}
        try:
            self.business_group_id = by_name[BUSINESS_NAME]["id"]
            self.organiser_group_id = by_name[ORGANISER_GROUP]["id"]
            self.closed_group_id = by_name[CLOSED_GROUP]["id"]
        except KeyError as missing:
            raise SetupFailed(f"no demo group {missing}: is the demo loaded?") from None
        for group in groups:
            if group.get("open") and group["kind"] != "network":
                self.pools.add("groups", group["id"])
        for proposal in self._items(http, setup, "/proposals"):
            self.pools.add("proposals", proposal["id"])
        for opening in self._items(http, setup, "/openings"):
            self.pools.add("openings", opening["id"])
        self._schedule_events(http, setup)
        made = []
        for number in range(clients):
            made.append(self._new_client(http, setup, number))
        http.close()
        return made

    def _sign_in(self, http, setup, email: str, password: str) -> str:
        return self._session(http, setup, email, password)["token"]

    def _session(self, http, setup, email: str, password: str) -> dict:
        answer = self.until_answered(
            http,
            -1,
            setup.next(),
            "sign_in",
            "POST",
            "/sessions",
            body={"email": email, "password": password},
        )
        if answer.outcome != OK:
            raise SetupFailed(f"signing in as {email}: {answer.status} {answer.response}")
        return answer.response

    def _set_immediate(self, http, setup, token: str) -> None:
        answer = self.until_answered(
            http,
            -1,
            setup.next(),
            "set_preferences",
            "PUT",
            "/me/preferences",
            token=token,
            body={"email": "immediate"},
        )
        if answer.outcome != OK:
            raise SetupFailed(f"setting email preferences: {answer.status} {answer.response}")

    def _items(self, http, setup, path: str) -> list[dict]:
        answer = self.until_answered(http, -1, setup.next(), "read", "GET", path + "?per_page=100")
        if answer.outcome != OK:
            raise SetupFailed(f"GET {path}: {answer.status} {answer.response}")
        return answer.response["items"]

    def _all_groups(self, http, setup) -> list[dict]:
        # Every page: after a few full-size rounds the rounds' own groups fill the first.
        groups: list[dict] = []
        page = 1
        while True:
            answer = self.until_answered(
                http, -1, setup.next(), "read", "GET", f"/groups?per_page=100&page={page}"
            )
            if answer.outcome != OK:
                raise SetupFailed(f"GET /groups: {answer.status} {answer.response}")
            items = answer.response["items"]
            groups.extend(items)
            if not items or len(groups) >= answer.response.get("total", 0):
                return groups
            page += 1

    def _schedule_events(self, http, setup) -> None:
        starts = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
        for number in range(EVENTS):
            title = f"{self.tag} event {number}"
            answer = self.until_answered(
                http,
                -1,
                setup.next(),
                "create_event",
                "POST",
                "/events",
                token=self.staff_token,
                body={
                    "title": title,
                    "kind": "meeting",
                    "description": "chaos workload",
                    "starts_at": (starts + timedelta(hours=number)).isoformat(),
                    "ends_at": (starts + timedelta(hours=number + 1)).isoformat(),
                    "location": "Folkets hus",
                    "capacity": EVENT_CAPACITY,
                    "organiser_group_id": self.organiser_group_id,
                },
                effect=("event", title),
                action=ADD,
            )
            if answer.outcome != OK:
                raise SetupFailed(f"scheduling an event: {answer.status} {answer.response}")
            self.pools.add("events", answer.response["id"])

    def _new_client(self, http, setup, number: int) -> Client:
        email = f"{self.tag}-{number}@chaos.example"
        registered = self.until_answered(
            http,
            -1,
            setup.next(),
            "register_account",
            "POST",
            "/accounts",
            body={
                "email": email,
                "password": ACCOUNT_PASSWORD,
                "display_name": f"Chaos {number}",
                "locale": "en" if number % 2 else "sv",
            },
            effect=("account", email),
            action=ADD,
        )
        if registered.outcome != OK and registered.status != 409:
            raise SetupFailed(f"registering {email}: {registered.status} {registered.response}")
        session = self._session(http, setup, email, ACCOUNT_PASSWORD)
        token, account_id = session["token"], session["account"]["id"]
        self.history.add_account(account_id, email)
        self._set_immediate(http, setup, token)
        return Client(self, number, account_id, token)


class Sequence:
    """Numbers of one client's requests (for correlation ids and Idempotency-Keys)."""

    def __init__(self):
        self._value = 0

    def next(self) -> int:
        self._value += 1
        return self._value

    def peek(self) -> int:
        """The number the next request will get."""
        return self._value + 1


class Client:
    """One resident: its own account and HTTP session, and what it added (which it alone
    may remove again)."""

    def __init__(self, run: Round, number: int, account_id: str, token: str):
        self.run = run
        self.number = number
        self.account_id = account_id
        self.token = token
        self.sequence = Sequence()
        self.supported: set[str] = set()
        self.joined: set[str] = set()
        self.created_groups: set[str] = set()
        self.requested = False
        self.registered: set[str] = set()
        self.followed: set[str] = set()
        self.authored: set[str] = set()
        self.interested: set[str] = set()
        self.last_joined: str | None = None
        self.stop: threading.Event | None = None
        self.last_registered: str | None = None

    def mark(self, kind: str) -> str:
        return f"{self.run.tag}-{kind}-{self.number}-{self.sequence.peek()}"

    def call(self, kind, method, path, *, token=None, body=None, effect=None, action=NONE):
        """The request; when its outcome is unknown, the same request again (a POST with
        the same Idempotency-Key and body) up to `retries` times, as a client told 503
        would. Each try is recorded; returns the last."""
        key = None
        for attempt in range(self.run.retries + 1):
            if attempt:
                self.wait(RETRY_WAIT_S)
                if self.stopped():
                    break
            answer = self.run.request(
                self.http,
                self.number,
                self.sequence.next(),
                kind,
                method,
                path,
                token=token or self.token,
                body=body,
                actor_id=self.account_id,
                effect=effect,
                action=action,
                idempotency_key=key,
            )
            key = answer.idempotency_key
            if answer.outcome != UNKNOWN:
                break
        return answer

    def wait(self, seconds: float) -> None:
        if self.stop is not None:
            self.stop.wait(seconds)
        else:
            time.sleep(seconds)

    def stopped(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    def play(
        self, operations: int, rng: random.Random, stop: threading.Event | None, pause: float
    ) -> None:
        self.http = requests.Session()
        self.stop = stop
        kinds = list(WEIGHTS)
        weights = [WEIGHTS[kind] for kind in kinds]
        made = tries = 0
        try:
            # A drawn operation may have nothing to act on (nothing to withdraw yet):
            # draw again, within reason.
            while made < operations and tries < operations * 20:
                if stop is not None and stop.is_set():
                    return
                tries += 1
                kind = rng.choices(kinds, weights)[0]
                if getattr(self, kind)(rng) is not None:
                    made += 1
                    # Paced, so that the load spans the round's fault instead of
                    # racing through before it (waits less once stopped).
                    if pause:
                        self.wait(rng.uniform(0, 2 * pause))
        finally:
            self.http.close()

    # --- proposals --------------------------------------------------------------------

    def submit_proposal(self, rng):
        mark = self.mark("p")
        answer = self.call(
            "submit_proposal",
            "POST",
            "/proposals",
            body={
                "title": f"{mark} snow clearing",
                "body": f"Proposal {mark} from the chaos workload.",
                "category": rng.choice(("infrastructure", "leisure", "environment")),
            },
            effect=("proposal", mark),
            action=ADD,
        )
        if answer.outcome == OK:
            self.run.pools.add("proposals", answer.response["id"])
            self.authored.add(answer.response["id"])
        return answer

    def support(self, rng):
        proposal = self.run.pools.pick("proposals", rng)
        if proposal is None or proposal in self.authored or proposal in self.supported:
            return None
        answer = self.call(
            "support",
            "POST",
            f"/proposals/{proposal}/supports",
            effect=("support", proposal, self.account_id),
            action=ADD,
        )
        self.supported.add(proposal)  # tried: may be there whatever the answer
        return answer

    def withdraw_support(self, rng):
        if not self.supported:
            return None
        proposal = rng.choice(sorted(self.supported))
        answer = self.call(
            "withdraw_support",
            "DELETE",
            f"/proposals/{proposal}/supports/mine",
            effect=("support", proposal, self.account_id),
            action=REMOVE,
        )
        self.supported.discard(proposal)
        return answer

    def comment(self, rng):
        proposal = self.run.pools.pick("proposals", rng)
        if proposal is None:
            return None
        mark = self.mark("c")
        return self.call(
            "comment",
            "POST",
            f"/proposals/{proposal}/comments",
            body={"body": f"Comment {mark}: yes, please."},
            effect=("comment", mark),
            action=ADD,
        )

    def follow(self, rng):
        proposal = self.run.pools.pick("proposals", rng)
        if proposal is None or proposal in self.authored or proposal in self.followed:
            return None
        answer = self.call(
            "follow",
            "POST",
            "/follows",
            body={"target_type": "proposal", "target_id": proposal},
            effect=("follow", "proposal", proposal, self.account_id),
            action=ADD,
        )
        self.followed.add(proposal)
        return answer

    def unfollow(self, rng):
        if not self.followed:
            return None
        proposal = rng.choice(sorted(self.followed))
        answer = self.call(
            "unfollow",
            "DELETE",
            f"/follows/proposal/{proposal}",
            effect=("follow", "proposal", proposal, self.account_id),
            action=REMOVE,
        )
        self.followed.discard(proposal)
        return answer

    # --- groups -----------------------------------------------------------------------

    def create_group(self, rng):
        name = f"{self.mark('g')} club"
        answer = self.call(
            "create_group",
            "POST",
            "/groups",
            body={"name": name, "kind": "association", "description": "chaos", "open": True},
            effect=("group", name),
            action=ADD,
        )
        if answer.outcome == OK:
            self.created_groups.add(answer.response["id"])
            self.run.pools.add("groups", answer.response["id"])
        return answer

    def join_group(self, rng):
        group = self.run.pools.pick("groups", rng)
        if group is None or group in self.joined or group in self.created_groups:
            return None
        answer = self.call(
            "join_group",
            "POST",
            f"/groups/{group}/members",
            effect=("membership", group, self.account_id),
            action=ADD,
        )
        self.joined.add(group)
        self.last_joined = group
        return answer

    def leave_group(self, rng, group: str | None = None):
        if not self.joined:
            return None
        group = group or rng.choice(sorted(self.joined))
        answer = self.call(
            "leave_group",
            "DELETE",
            f"/groups/{group}/members/{self.account_id}",
            effect=("membership", group, self.account_id),
            action=REMOVE,
        )
        self.joined.discard(group)
        return answer

    def join_and_leave(self, rng):
        """Join and leave at once: the two facts travel close together, so a copy that
        applies them in arrival order keeps whichever came last."""
        if self.join_group(rng) is None:
            return None
        return self.leave_group(rng, group=self.last_joined)

    def request_join(self, rng):
        if self.requested:
            return None
        group = self.run.closed_group_id
        answer = self.call(
            "request_join",
            "POST",
            f"/groups/{group}/members",
            effect=("join_request", group, self.account_id),
            action=ADD,
        )
        self.requested = True
        return answer

    def withdraw_request(self, rng):
        if not self.requested:
            return None
        group = self.run.closed_group_id
        answer = self.call(
            "withdraw_request",
            "DELETE",
            f"/groups/{group}/members/{self.account_id}",
            effect=("join_request", group, self.account_id),
            action=REMOVE,
        )
        self.requested = False
        return answer

    # --- events -----------------------------------------------------------------------

    def register_event(self, rng):
        event = self.run.pools.pick("events", rng)
        if event is None or event in self.registered:
            return None
        answer = self.call(
            "register_event",
            "POST",
            f"/events/{event}/registrations",
            effect=("registration", event, self.account_id),
            action=ADD,
        )
        self.registered.add(event)
        self.last_registered = event
        return answer

    def register_and_cancel(self, rng):
        """Register and cancel at once (confirmed or waitlisted, then gone: a promotion
        may follow), the facts close together."""
        if self.register_event(rng) is None:
            return None
        return self.cancel_registration(rng, event=self.last_registered)

    def cancel_registration(self, rng, event: str | None = None):
        if not self.registered:
            return None
        event = event or rng.choice(sorted(self.registered))
        answer = self.call(
            "cancel_registration",
            "DELETE",
            f"/events/{event}/registrations/mine",
            effect=("registration", event, self.account_id),
            action=REMOVE,
        )
        self.registered.discard(event)
        return answer

    # --- openings ---------------------------------------------------------------------

    def post_opening(self, rng):
        mark = self.mark("o")
        answer = self.call(
            "post_opening",
            "POST",
            "/openings",
            token=self.run.business_token,
            body={
                "business_group_id": self.run.business_group_id,
                "title": f"{mark} guide",
                "description": "Guided tours in the wildlife park (chaos workload).",
                "sector": "tourism",
                "employment_type": rng.choice(("seasonal", "summer_job", "part_time")),
                "location": "Jokkmokk",
                "apply_by": (date.today() + timedelta(days=60)).isoformat(),
                "contact": "jobb@viltpark.jokkmokk.example",
            },
            effect=("opening", mark),
            action=ADD,
        )
        if answer.outcome == OK:
            self.run.pools.add("openings", answer.response["id"])
        return answer

    def interest(self, rng):
        opening = self.run.pools.pick("openings", rng)
        if opening is None or opening in self.interested:
            return None
        self.interested.add(opening)
        return self.call(
            "interest",
            "POST",
            f"/openings/{opening}/interest",
            body={"message": "I am moving back in June."},
            effect=("interest", opening, self.account_id),
            action=ADD,
        )


def run_workload(
    base_url: str | list[str],
    *,
    clients: int = 4,
    operations: int = 200,
    seed: int = 0,
    poison_every: int | None = None,
    poison_limit: int | None = None,
    stop: threading.Event | None = None,
    tag: str | None = None,
    timeout: float = 10.0,
    password: str = DEMO_PASSWORD,
    say=print,
    history: History | None = None,
    pause: float = 0.25,
    retries: int = 1,
) -> History:
    """Play one round against the platform at `base_url` and return its history
    (see the module docstring). `operations` is the load's total over all clients (a
    cap: `stop` ends it sooner). `history`: a History (made by the caller, to watch its
    length while the round runs) to record into; its tag is the round's. `pause`: each
    client waits 0..2×pause seconds (random, mean `pause`) after each request, so a round
    of 6 clients makes some 15-20 requests a second on a healthy platform. `retries`: how
    many times a load request with an unknown outcome is sent again (the same
    Idempotency-Key and body), a second after."""
    tag = history.tag if history is not None else tag or new_tag(seed)
    run = Round(base_url, tag, timeout, password, say, poison_every, retries, poison_limit)
    if history is not None:
        run.history = history
    say(f"workload {run.tag}: setting up {clients} clients")
    players = run.set_up(clients)
    say(f"workload {run.tag}: {operations} operations by {clients} clients")
    share, extra = divmod(operations, clients)
    threads = []
    for index, player in enumerate(players):
        rng = random.Random(f"{seed}-{index}")
        count = share + (1 if index < extra else 0)
        thread = threading.Thread(
            target=player.play,
            args=(count, rng, stop, pause),
            name=f"chaos-client-{index}",
            daemon=True,
        )
        threads.append(thread)
        thread.start()
    for thread in threads:
        thread.join()
    run.history.ended_at = time.time()
    counted = run.history.counts_by_outcome()
    say(f"workload {run.tag}: done, {len(run.history)} requests {counted}")
    return run.history
