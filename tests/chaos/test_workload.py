"""The chaos workload's record of what its clients were told, against a small fake of the
public API (an HTTP server in a thread): no platform, no broker."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.chaos import workload
from tests.chaos.history import ADD, NONE, OK, REMOVE, UNKNOWN, History
from tests.chaos.workload import run_workload

GROUPS = [
    {"id": str(uuid.uuid4()), "name": workload.BUSINESS_NAME, "kind": "business", "open": False},
    {"id": str(uuid.uuid4()), "name": workload.ORGANISER_GROUP, "kind": "working_group"}
    | {"open": True},
    {"id": str(uuid.uuid4()), "name": workload.CLOSED_GROUP, "kind": "association", "open": False},
]


class FakeApi:
    """Answers every request of the workload as the gateway would when all goes well;
    `fail(pattern, status)` makes matching requests answer `status` (None: no answer
    before the client's timeout) `times` times."""

    def __init__(self):
        self.seen: list[tuple[str, str, dict]] = []
        self.failures: list[list] = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                with fake.lock:
                    fake.seen.append((self.command, self.path, dict(self.headers)))
                    failure = fake._failure(self.command, self.path)
                if failure == "hang":
                    time.sleep(1.0)
                    return
                status, answer = failure or fake.answer(self.command, self.path, body)
                data = json.dumps(answer).encode() if answer is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def fail(self, method: str, pattern: str, status: int | None, times: int = 1000) -> None:
        self.failures.append([method, re.compile(pattern), status, times])

    def _failure(self, method: str, path: str):
        for failure in self.failures:
            wanted, pattern, status, times = failure
            if wanted == method and pattern.search(path) and times > 0:
                failure[3] -= 1
                return "hang" if status is None else (status, {"error": {"code": "x"}})
        return None

    def answer(self, method: str, path: str, body):
        path = path.removeprefix("/api/v1").split("?")[0]
        if method == "POST" and path == "/sessions":
            return 201, {"token": uuid.uuid4().hex, "account": {"id": str(uuid.uuid4())}}
        if method == "GET" and path == "/groups":
            return 200, {"items": GROUPS, "total": len(GROUPS)}
        if method == "GET":
            return 200, {"items": [], "total": 0}
        if method == "PUT":
            return 200, {}
        if method == "DELETE":
            return 204, None
        if path.endswith("/members"):
            return 202 if GROUPS[2]["id"] in path else 201, {"status": "member"}
        return 201, {"id": str(uuid.uuid4())}

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc_info):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def api():
    with FakeApi() as fake:
        yield fake


def play(api, **options) -> History:
    """A quick round (no pause between requests) against the fake API."""
    defaults = {"clients": 2, "operations": 40, "seed": 3, "pause": 0, "say": lambda _: None}
    return run_workload(api.base_url, **(defaults | options))


def load(history: History):
    return [op for op in history.operations if op.client >= 0]


def test_every_request_is_recorded_with_what_it_was_told(api):
    history = play(api)
    assert history.tag.startswith("chaos-3-")
    # 40 operations; joining-and-leaving (registering-and-cancelling) at once is one
    # operation of two requests.
    assert 40 <= len(load(history)) <= 80
    assert len(history) == len(api.seen)
    assert len(history.accounts) == 2
    assert all(op.outcome == OK for op in history.operations)
    assert history.ended_at >= history.started_at
    for op in load(history):
        assert op.actor_id in history.accounts
        assert op.correlation_id.startswith(f"{history.tag}-{op.client}-")
        assert op.action in (ADD, REMOVE)
        assert op.effect is not None
    kinds = {op.kind for op in load(history)}
    assert {"submit_proposal", "comment", "support"} <= kinds


def test_posts_carry_their_idempotency_key_and_correlation_id(api):
    history = play(api)
    sent = {
        headers["X-Correlation-ID"]: (method, headers.get("Idempotency-Key"))
        for method, _, headers in api.seen
    }
    for op in history.operations:
        method, key = sent[op.correlation_id]
        assert key == op.idempotency_key
        assert (key is not None) == (method == "POST")


def test_things_are_named_by_the_rounds_marker(api):
    history = play(api)
    for op in history.operations:
        if op.kind == "submit_proposal":
            assert op.effect == ("proposal", op.body["title"].split()[0])
            assert op.effect[1].startswith(f"{history.tag}-p-{op.client}-")
        if op.kind == "comment":
            assert op.effect[1] in op.body["body"]


def test_a_client_removes_only_what_it_added(api):
    history = play(api, operations=200)
    added: dict[int, set] = {}
    for op in sorted(load(history), key=lambda op: op.started_at):
        if op.action == ADD:
            added.setdefault(op.client, set()).add(op.effect)
        elif op.action == REMOVE:
            assert op.effect in added.get(op.client, set()), op


def test_an_unknown_outcome_is_asked_again_with_the_same_key(api, monkeypatch):
    monkeypatch.setattr(workload, "RETRY_WAIT_S", 0.01)
    api.fail("POST", r"/proposals$", 503, times=1)
    history = play(api, operations=60)
    first = next(op for op in load(history) if op.kind == "submit_proposal" and op.status == 503)
    mine = [op for op in load(history) if op.client == first.client]
    tries = mine[mine.index(first) : mine.index(first) + 2]  # its requests are sequential
    assert [op.outcome for op in tries] == [UNKNOWN, OK]
    assert tries[0].idempotency_key == tries[1].idempotency_key
    assert tries[0].body == tries[1].body and tries[0].effect == tries[1].effect
    assert tries[0].correlation_id != tries[1].correlation_id


def test_errors_timeouts_and_5xx_are_unknown_4xx_failed(api, monkeypatch):
    monkeypatch.setattr(workload, "RETRY_WAIT_S", 0.01)
    api.fail("POST", r"/comments$", 503)
    api.fail("POST", r"/supports$", 409)
    api.fail("DELETE", r"/registrations/mine$", None)
    history = play(api, operations=120, timeout=0.3, retries=0)
    by_kind: dict[str, set] = {}
    for op in load(history):
        by_kind.setdefault(op.kind, set()).add((op.status, op.outcome))
    assert by_kind["comment"] == {(503, UNKNOWN)}
    assert by_kind["support"] == {(409, "failed")}
    assert by_kind["cancel_registration"] == {(None, UNKNOWN)}
    timed_out = [op for op in load(history) if op.kind == "cancel_registration"]
    assert all("Timeout" in op.error for op in timed_out)


def test_setup_asks_again_until_answered(api, monkeypatch):
    monkeypatch.setattr(workload, "SETUP_RETRY_S", 0.01)
    api.fail("POST", r"/sessions$", 503, times=2)
    history = play(api, operations=4)
    sign_ins = [op for op in history.operations if op.kind == "sign_in"]
    assert [op.outcome for op in sign_ins[:3]] == [UNKNOWN, UNKNOWN, OK]
    assert len({op.idempotency_key for op in sign_ins[:3]}) == 1  # the same request again


def test_poison_marks_only_comments_and_supports(api):
    history = play(api, operations=120, poison_every=3)
    poisoned = [op for op in history.operations if op.poison]
    assert poisoned
    assert {op.kind for op in poisoned} <= set(workload.POISON_KINDS)
    marked = [op for op in history.operations if op.kind in workload.POISON_KINDS]
    assert len(poisoned) == len(marked) // 3


def test_poison_limit_caps_the_marked_requests(api):
    history = play(api, operations=120, poison_every=2, poison_limit=2)
    poisoned = [op for op in history.operations if op.poison]
    marked = [op for op in history.operations if op.kind in workload.POISON_KINDS]
    assert len(marked) > 4  # without the cap there would be more than two
    assert len(poisoned) == 2


def test_stop_ends_the_load_early(api):
    stop = threading.Event()
    stop.set()
    history = play(api, operations=1000, stop=stop)
    assert load(history) == []
    assert history.accounts  # the setup ran


def test_a_history_made_by_the_caller_is_recorded_into(api):
    mine = History(tag="chaos-mine-1")
    assert play(api, history=mine, operations=10) is mine
    assert 10 <= len(load(mine)) <= 20
    assert all(op.correlation_id.startswith("chaos-mine-1-") for op in mine.operations)


def test_reads_and_sign_ins_name_no_effect(api):
    for op in play(api).operations:
        if op.kind in ("sign_in", "read", "set_preferences"):
            assert op.action == NONE and op.effect is None
