"""civic.rpc's request line (issue 14) over the real broker: calls are answered on one
long-lived connection, which stays up through idle reads and heartbeats; a service that
is not running is `Unavailable` at once (the broker returns the request); losing the
connection fails the calls waiting on it and the line connects again by itself; replies
come over direct reply-to (no reply queue), and nameko's own clients are answered too.
A service acks each request once answered, answers an unknown method at once, makes a
request wait for a full worker pool (and not its line), and answers what it took when
it stops."""

from __future__ import annotations

import socket

import eventlet
import pytest
from eventlet.event import Event
from eventlet.greenpool import GreenPool
from nameko.exceptions import MethodNotFound
from nameko.rpc import RpcConsumer
from nameko.rpc import rpc as nameko_rpc
from nameko.runners import ServiceRunner
from nameko.standalone.rpc import ClusterRpcClient
from nameko.testing.services import entrypoint_hook

from civic import rpc as civic_rpc
from civic.errors import Unavailable
from civic.service import rpc
from tests.conftest import wait_for
from tests.support import vhost_of

GATE = {"open": Event()}
RUNNING = {}  # the world's runner, for tests that look at every container


class Answering:
    name = "rpcline_answering"

    @rpc
    def echo(self, value):
        return value

    @rpc
    def slow(self):
        if not GATE["running"].ready():
            GATE["running"].send(True)
        GATE["open"].wait()
        return "late"


class Mixed:
    """A service declaring both nameko's own `@rpc` and civic's."""

    name = "rpcline_mixed"

    @nameko_rpc
    def plain(self, value):
        return ["plain", value]

    @rpc
    def civic(self, value):
        return ["civic", value]


class Asking:
    name = "rpcline_asking"
    services = civic_rpc.Services()

    @rpc
    def ask(self, method, *args, timeout=10.0):
        return getattr(self.services.rpcline_answering, method)(*args, timeout=timeout)

    @rpc
    def ask_mixed(self, method, value):
        return getattr(self.services.rpcline_mixed, method)(value, timeout=10.0)

    @rpc
    def ask_two_at_once(self):
        slow = eventlet.spawn(self.services.rpcline_answering.slow, timeout=10.0)
        GATE["running"].wait()  # the slow call has the service's one worker
        GATE["asked"].send(True)
        quick = self.services.rpcline_answering.echo("quick", timeout=10.0)
        return [slow.wait(), quick]

    @rpc
    def ask_nobody(self):
        return self.services.rpcline_nobody.echo(1, timeout=60.0)


def container_of(service_name):
    return next(c for c in RUNNING["runner"].containers if c.service_name == service_name)


def line_of(container):
    return next(
        e for e in container.shared_extensions.values() if isinstance(e, civic_rpc.RequestLine)
    )


@pytest.fixture
def world(civic_settings, monkeypatch):
    monkeypatch.setattr(civic_rpc, "READ_TICK", 0.05)
    GATE["open"] = Event()
    GATE["asked"] = Event()
    GATE["running"] = Event()
    runner = ServiceRunner()
    runner.add_service(Answering)
    runner.add_service(Asking)
    runner.add_service(Mixed)
    runner.start()
    RUNNING["runner"] = runner
    asking = container_of("rpcline_asking")
    try:
        yield asking, line_of(asking)
    finally:
        if not GATE["open"].ready():
            GATE["open"].send(True)
        runner.kill()


def test_calls_are_answered_on_one_connection_that_outlives_idle_reads(world):
    asking, line = world
    with entrypoint_hook(asking, "ask") as ask:
        assert ask("echo", {"å": [1, 2]}) == {"å": [1, 2]}
        connection = line._connection
        ticks = line.idle_ticks
        wait_for(lambda: line.idle_ticks >= ticks + 5, message="idle reads of the line")
        assert line._connection is connection  # heartbeats checked, still connected
        assert ask("echo", "again") == "again"
    assert line.pending == {}


def test_a_service_that_is_not_running_is_unavailable_at_once(world):
    asking, line = world
    with entrypoint_hook(asking, "ask_nobody") as ask_nobody:
        with pytest.raises(Unavailable, match="not running"):
            ask_nobody()
    assert line.pending == {} and line._connection is not None


def slow_call(asking, timeout):
    """The slow call from a green thread: the thread, and what the call ended with."""
    outcome = {}

    def waiting_call():
        with entrypoint_hook(asking, "ask") as ask:
            try:
                outcome["answer"] = ask("slow", timeout=timeout)
            except Unavailable as error:
                outcome["error"] = str(error)

    return eventlet.spawn(waiting_call), outcome


def test_a_lost_connection_fails_the_waiting_calls_and_the_line_connects_again(world):
    asking, line = world
    caller, outcome = slow_call(asking, timeout=60.0)
    wait_for(lambda: line.pending, message="the slow call waiting on the line")
    lost = line._connection
    lost.sock.shutdown(socket.SHUT_RDWR)  # as when the broker goes away
    caller.wait()
    assert "connection was lost" in outcome.get("error", ""), outcome
    wait_for(
        lambda: line._connection is not None and line._connection is not lost,
        message="the line connected again",
    )
    with entrypoint_hook(asking, "ask") as ask:
        assert ask("echo", 7) == 7


def test_services_answer_over_their_own_line(world):
    for container in RUNNING["runner"].containers:
        consumer = container.shared_extensions.get(RpcConsumer)
        assert consumer is not None, container.service_name
        if container.service_name != "rpcline_mixed":  # whichever bound first, there
            assert isinstance(consumer, civic_rpc.Answers), container.service_name
    asking, _line = world
    with entrypoint_hook(asking, "ask") as ask:
        assert [ask("echo", n) for n in range(5)] == list(range(5))


def test_a_service_with_both_kinds_of_rpc_has_one_consumer_that_answers_every_call(world):
    asking, _line = world
    # Every call is answered, whichever kind of `@rpc` declared the method: with two
    # consumers on the service's queue, each would answer MethodNotFound for the other's.
    with entrypoint_hook(asking, "ask_mixed") as ask_mixed:
        for n in range(12):
            assert ask_mixed("plain", n) == ["plain", n]
            assert ask_mixed("civic", n) == ["civic", n]


def test_replies_need_no_reply_queue_and_nameko_clients_are_answered_too(
    world, civic_settings, rabbit_manager
):
    asking, _line = world
    with entrypoint_hook(asking, "ask") as ask:
        assert [ask("echo", n) for n in range(3)] == [0, 1, 2]
    vhost = vhost_of(civic_settings["AMQP_URI"])
    # Direct reply-to: the answers went straight to the asking channel.
    assert [q["name"] for q in rabbit_manager.get_queues(vhost) if "reply" in q["name"]] == []
    # nameko's standalone client names its own reply queue (bound to the RPC exchange):
    # a service answers it there.
    with ClusterRpcClient(uri=civic_settings["AMQP_URI"], timeout=10) as client:
        assert client.rpcline_answering.echo("nameko") == "nameko"


def test_a_request_is_acked_once_answered_and_an_unknown_method_is_answered_at_once(
    world, civic_settings, rabbit_manager
):
    asking, _line = world
    with entrypoint_hook(asking, "ask") as ask:
        assert [ask("echo", n) for n in range(20)] == list(range(20))
        with pytest.raises(MethodNotFound):
            ask("no_such_method", timeout=10.0)
    vhost = vhost_of(civic_settings["AMQP_URI"])

    def settled():  # the management API's figures lag a little
        queue = rabbit_manager.get_queue(vhost, "rpc-rpcline_answering")
        return queue.get("messages_unacknowledged") == 0 and queue.get("messages") == 0

    wait_for(settled, timeout=30, message="no request left unacked in rpc-rpcline_answering")


def test_a_full_worker_pool_makes_a_request_wait_and_not_the_line(world):
    asking, _line = world
    answering = container_of("rpcline_answering")
    answering._worker_pool = GreenPool(1)  # one worker at a time
    line = line_of(answering)
    outcome = {}

    def two_calls():
        with entrypoint_hook(asking, "ask_two_at_once") as ask_two_at_once:
            outcome["answers"] = ask_two_at_once()

    caller = eventlet.spawn(two_calls)
    GATE["asked"].wait()
    # The quick call waits for the pool; the service's line still reads (it goes on).
    ticks = line.idle_ticks
    wait_for(lambda: line.idle_ticks > ticks, message="the line reading meanwhile")
    assert "answers" not in outcome
    GATE["open"].send(True)
    caller.wait()
    assert outcome["answers"] == ["late", "quick"]


def test_a_service_that_stops_answers_the_requests_it_took(world):
    asking, _line = world
    caller, outcome = slow_call(asking, timeout=30.0)
    answering = container_of("rpcline_answering")
    wait_for(lambda: answering._worker_threads, message="the slow call running")
    stopping = eventlet.spawn(answering.stop)
    consumer = answering.shared_extensions[RpcConsumer].consumer
    wait_for(lambda: consumer.should_stop, message="the service taking no more requests")
    GATE["open"].send(True)
    stopping.wait()
    caller.wait()
    assert outcome == {"answer": "late"}


def test_a_call_to_a_service_killed_while_answering_ends_unavailable_at_its_timeout(world):
    asking, _line = world
    caller, outcome = slow_call(asking, timeout=1.0)
    answering = container_of("rpcline_answering")
    wait_for(lambda: answering._worker_threads, message="the slow call running")
    answering.kill()  # as kill -9 ends it: the worker never answers
    caller.wait()  # not a hang: the call's own timeout ends it (the gateway's 503)
    assert "did not answer in time" in outcome.get("error", ""), outcome
