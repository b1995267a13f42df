"""civic.instances: one question reaches every running instance of a service, each answers
for itself (who it is; its own log lines for a correlation id), on a real broker."""

from __future__ import annotations

import json

import pytest
from kombu import Connection
from nameko.runners import ServiceRunner

from civic import instances
from civic.log import Tracing, get_logger
from civic.service import InstanceAnswers, rpc
from tests.conftest import wait_for


class Answering:
    name = "answering"
    tracing = Tracing()
    instance = InstanceAnswers()

    @rpc
    def hello(self):
        get_logger("toy").info("hello_said")
        return self.instance


class Quiet:
    name = "quiet"
    tracing = Tracing()
    instance = InstanceAnswers()


@pytest.fixture
def running(civic_settings):
    runners = []

    def start(cls, count=1):
        for _ in range(count):
            runner = ServiceRunner()
            runner.add_service(cls)
            runner.start()
            runners.append(runner)
        # Each is counted once its queue is bound.
        wait_for(
            lambda: instances.ask([cls.name]).expected[cls.name] >= count,
            timeout=10,
            message=f"{count} instance(s) of {cls.name} listening",
        )
        return runners

    yield start
    for runner in runners:
        runner.stop()


def test_survey_finds_every_instance_of_a_service(running):
    running(Answering, count=2)
    running(Quiet)
    found = instances.survey("answering", timeout=5)
    assert len(found) == 2
    assert len({item["instance_id"] for item in found}) == 2
    for item in found:
        assert set(item) == set(instances.IDENTITY_KEYS)
        assert item["service"] == "answering" and item["pid"] > 0
        assert item["uptime_s"] >= 0 and item["version"]
    assert [item["service"] for item in instances.survey("quiet")] == ["quiet"]


def test_survey_of_a_service_that_never_ran_is_empty_at_once(civic_settings):
    answers = instances.ask(["nobody"], timeout=5)
    assert answers.instances == [] and answers.expected == {"nobody": 0}


def test_trace_collects_the_lines_of_one_correlation_id_once(running, civic_settings):
    running(Answering, count=2)
    from nameko.standalone.rpc import ClusterRpcClient

    with ClusterRpcClient(context_data={"correlation_id": "trace-me-1"}) as client:
        client.answering.hello()
    with ClusterRpcClient(context_data={"correlation_id": "someone-else"}) as client:
        client.answering.hello()

    def traced():
        answers = instances.trace_answers("trace-me-1", services=["answering"], timeout=5)
        events = [record["event"] for record in answers.records]
        return answers if "worker_done" in events else None

    answers = wait_for(traced, timeout=10, message="the worker's lines in the trace")
    # Both instances read the same file (one process): each line comes back once.
    assert [r["event"] for r in answers.records] == ["hello_said", "worker_done"]
    assert all(r["correlation_id"] == "trace-me-1" for r in answers.records)
    assert answers.records[1]["duration_ms"] >= 0 and answers.records[1]["pid"] > 0
    assert len(answers.instances) == 2 and answers.missing == {}


def test_questions_and_answers_are_checked(running, civic_settings):
    running(Quiet)
    assert instances.read_question(b"not json") is None
    assert instances.read_question(json.dumps({"ask": "pickle", "id": "x"})) is None
    assert (
        instances.read_question(json.dumps({"ask": "trace", "id": "x", "correlation_id": "../x"}))
        is None
    )
    assert instances.read_answer(json.dumps({"id": "q", "instance": {"pid": "1"}}), "q") is None
    with pytest.raises(ValueError):
        instances.trace("no spaces allowed", amqp_uri=civic_settings["AMQP_URI"])
    # A malformed question on the instance's queue is ignored; it still answers after.
    with Connection(civic_settings["AMQP_URI"]) as connection:
        channel = connection.channel()
        channel.basic_publish(
            __import__("amqp").Message(b"\x80\x04garbage", reply_to="nowhere"),
            exchange=instances.EXCHANGE,
            routing_key="quiet",
        )
    assert len(instances.survey("quiet", timeout=5)) == 1


def test_an_instance_that_stops_leaves_the_roster(running):
    runners = running(Answering, count=2)
    runners[0].stop()
    wait_for(
        lambda: instances.ask(["answering"]).expected["answering"] == 1,
        timeout=10,
        message="one instance left",
    )
    assert len(instances.survey("answering", timeout=5)) == 1


def test_find_names_the_correlation_ids_whose_lines_mention_an_id(running, civic_settings):
    running(Answering)
    get_logger("toy").info("about", subject={"proposal_id": "p-1234567890"}, correlation_id="c-a")
    get_logger("toy").info("other", subject={"proposal_id": "p-0000000000"}, correlation_id="c-b")
    answers = instances.find("p-1234567890", services=["answering"], timeout=5)
    assert [item["correlation_id"] for item in answers.found] == ["c-a"]
    with pytest.raises(ValueError):
        instances.find("x y")
