"""Faults on the consuming side (issue 12), the parts that need no broker: which errors are
the infrastructure's, stable queue names, orphaned queues, the handler timeout setting."""

import sqlite3

import pytest
from sqlalchemy import MetaData
from sqlalchemy import exc as sa_exc

from civic import config, topology
from civic.db import Database, kernel_tables
from civic.messaging import event_handler, is_infrastructure_error
from civic.service import ServiceBase

# Every queue the services declared before handlers named their queues explicitly: a
# deployed broker holds them (and inboxes hold the handler keys), so they must stay.
QUEUES_BEFORE_EXPLICIT_NAMES = [
    "civic.dead-letters",
    "evt-groups-account_erased--proposals.on_account_erased",
    "evt-groups-account_erased--proposals.on_account_erased.retry-1000ms",
    "evt-groups-account_erased--proposals.on_account_erased.retry-4000ms",
    "evt-groups-account_erased--proposals.on_account_erased.retry-15000ms",
    "evt-groups-account_registered--proposals.on_account_registered",
    "evt-groups-account_registered--proposals.on_account_registered.retry-1000ms",
    "evt-groups-account_registered--proposals.on_account_registered.retry-4000ms",
    "evt-groups-account_registered--proposals.on_account_registered.retry-15000ms",
    "evt-groups-admin_appointed--proposals.on_admin_appointed",
    "evt-groups-admin_appointed--proposals.on_admin_appointed.retry-1000ms",
    "evt-groups-admin_appointed--proposals.on_admin_appointed.retry-4000ms",
    "evt-groups-admin_appointed--proposals.on_admin_appointed.retry-15000ms",
    "evt-groups-group_created--proposals.on_group_created",
    "evt-groups-group_created--proposals.on_group_created.retry-1000ms",
    "evt-groups-group_created--proposals.on_group_created.retry-4000ms",
    "evt-groups-group_created--proposals.on_group_created.retry-15000ms",
    "evt-groups-group_verified--proposals.on_group_verified",
    "evt-groups-group_verified--proposals.on_group_verified.retry-1000ms",
    "evt-groups-group_verified--proposals.on_group_verified.retry-4000ms",
    "evt-groups-group_verified--proposals.on_group_verified.retry-15000ms",
    "evt-groups-member_joined--proposals.on_member_joined",
    "evt-groups-member_joined--proposals.on_member_joined.retry-1000ms",
    "evt-groups-member_joined--proposals.on_member_joined.retry-4000ms",
    "evt-groups-member_joined--proposals.on_member_joined.retry-15000ms",
    "evt-groups-member_left--proposals.on_member_left",
    "evt-groups-member_left--proposals.on_member_left.retry-1000ms",
    "evt-groups-member_left--proposals.on_member_left.retry-4000ms",
    "evt-groups-member_left--proposals.on_member_left.retry-15000ms",
    "evt-groups-account_erased--events.on_account_erased",
    "evt-groups-account_erased--events.on_account_erased.retry-1000ms",
    "evt-groups-account_erased--events.on_account_erased.retry-4000ms",
    "evt-groups-account_erased--events.on_account_erased.retry-15000ms",
    "evt-groups-account_registered--events.on_account_registered",
    "evt-groups-account_registered--events.on_account_registered.retry-1000ms",
    "evt-groups-account_registered--events.on_account_registered.retry-4000ms",
    "evt-groups-account_registered--events.on_account_registered.retry-15000ms",
    "evt-groups-admin_appointed--events.on_admin_appointed",
    "evt-groups-admin_appointed--events.on_admin_appointed.retry-1000ms",
    "evt-groups-admin_appointed--events.on_admin_appointed.retry-4000ms",
    "evt-groups-admin_appointed--events.on_admin_appointed.retry-15000ms",
    "evt-groups-group_created--events.on_group_created",
    "evt-groups-group_created--events.on_group_created.retry-1000ms",
    "evt-groups-group_created--events.on_group_created.retry-4000ms",
    "evt-groups-group_created--events.on_group_created.retry-15000ms",
    "evt-groups-group_verified--events.on_group_verified",
    "evt-groups-group_verified--events.on_group_verified.retry-1000ms",
    "evt-groups-group_verified--events.on_group_verified.retry-4000ms",
    "evt-groups-group_verified--events.on_group_verified.retry-15000ms",
    "evt-groups-member_joined--events.on_member_joined",
    "evt-groups-member_joined--events.on_member_joined.retry-1000ms",
    "evt-groups-member_joined--events.on_member_joined.retry-4000ms",
    "evt-groups-member_joined--events.on_member_joined.retry-15000ms",
    "evt-groups-member_left--events.on_member_left",
    "evt-groups-member_left--events.on_member_left.retry-1000ms",
    "evt-groups-member_left--events.on_member_left.retry-4000ms",
    "evt-groups-member_left--events.on_member_left.retry-15000ms",
    "evt-groups-account_erased--openings.on_account_erased",
    "evt-groups-account_erased--openings.on_account_erased.retry-1000ms",
    "evt-groups-account_erased--openings.on_account_erased.retry-4000ms",
    "evt-groups-account_erased--openings.on_account_erased.retry-15000ms",
    "evt-groups-account_registered--openings.on_account_registered",
    "evt-groups-account_registered--openings.on_account_registered.retry-1000ms",
    "evt-groups-account_registered--openings.on_account_registered.retry-4000ms",
    "evt-groups-account_registered--openings.on_account_registered.retry-15000ms",
    "evt-groups-admin_appointed--openings.on_admin_appointed",
    "evt-groups-admin_appointed--openings.on_admin_appointed.retry-1000ms",
    "evt-groups-admin_appointed--openings.on_admin_appointed.retry-4000ms",
    "evt-groups-admin_appointed--openings.on_admin_appointed.retry-15000ms",
    "evt-groups-group_created--openings.on_group_created",
    "evt-groups-group_created--openings.on_group_created.retry-1000ms",
    "evt-groups-group_created--openings.on_group_created.retry-4000ms",
    "evt-groups-group_created--openings.on_group_created.retry-15000ms",
    "evt-groups-group_verified--openings.on_group_verified",
    "evt-groups-group_verified--openings.on_group_verified.retry-1000ms",
    "evt-groups-group_verified--openings.on_group_verified.retry-4000ms",
    "evt-groups-group_verified--openings.on_group_verified.retry-15000ms",
    "evt-groups-member_joined--openings.on_member_joined",
    "evt-groups-member_joined--openings.on_member_joined.retry-1000ms",
    "evt-groups-member_joined--openings.on_member_joined.retry-4000ms",
    "evt-groups-member_joined--openings.on_member_joined.retry-15000ms",
    "evt-groups-member_left--openings.on_member_left",
    "evt-groups-member_left--openings.on_member_left.retry-1000ms",
    "evt-groups-member_left--openings.on_member_left.retry-4000ms",
    "evt-groups-member_left--openings.on_member_left.retry-15000ms",
    "evt-all--notifications.on_event",
    "evt-all--notifications.on_event.retry-1000ms",
    "evt-all--notifications.on_event.retry-4000ms",
    "evt-all--notifications.on_event.retry-15000ms",
]


def test_todays_queues_keep_their_names():
    declared = {queue.name for queue in topology.queues(topology.subscriptions())}
    assert set(QUEUES_BEFORE_EXPLICIT_NAMES) <= declared


def _operational(message):
    return sa_exc.OperationalError("SELECT 1", {}, sqlite3.OperationalError(message))


@pytest.mark.parametrize(
    "error",
    [
        _operational("database is locked"),
        _operational("could not connect to server: Connection refused"),
        sa_exc.DisconnectionError("gone"),
        sa_exc.TimeoutError("QueuePool limit of size 1 overflow 0 reached"),
        sqlite3.OperationalError("database is locked"),
    ],
)
def test_db_outage_errors_are_the_infrastructures(error):
    assert is_infrastructure_error(error)


def test_an_outage_behind_the_handlers_own_error_is_still_the_infrastructures():
    try:
        try:
            raise _operational("database is locked")
        except sa_exc.OperationalError as cause:
            raise RuntimeError("could not load the group") from cause
    except RuntimeError as error:
        assert is_infrastructure_error(error)


@pytest.mark.parametrize(
    "error",
    [
        RuntimeError("the handler's own bug"),
        KeyError("data"),
        sa_exc.IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE")),
        sa_exc.ProgrammingError("SELECT", {}, sqlite3.ProgrammingError("bad")),
    ],
)
def test_the_handlers_own_failures_count(error):
    assert not is_infrastructure_error(error)


class Renamed(ServiceBase):
    name = "proposals"
    db = Database(kernel_tables(MetaData())[0].metadata)

    @event_handler("groups", "member_joined", name="on_member_joined")
    def record_membership(self, envelope, uow):
        pass


def test_a_renamed_method_keeps_its_queue():
    [sub] = topology.subscriptions([Renamed])
    assert sub.method == "record_membership"
    assert sub.name == "on_member_joined"
    assert sub.queue == "evt-groups-member_joined--proposals.on_member_joined"


def test_a_handler_must_name_its_queue():
    with pytest.raises(TypeError):
        event_handler("groups", "member_joined")
    for bad in ("", "on member", "on-joined", "1st", None):
        with pytest.raises(ValueError):
            event_handler("groups", "member_joined", name=bad)


def test_orphans_are_civic_queues_no_handler_declares():
    listing = [
        {"name": "evt-groups-member_joined--proposals.on_member_joined", "messages": 2},
        {"name": "evt-groups-member_joined--proposals.old_name", "messages": 3},
        {"name": "evt-groups-member_joined--proposals.old_name.retry-1000ms", "messages": 0},
        {"name": "evt-all--notifications.on_event", "messages": 0},
        {"name": "evt-all--notifications.on_everything", "messages": 1},
        {"name": "rpc-groups", "messages": 4},
        {"name": "civic.dead-letters", "messages": 9},
        {"name": "someone-elses", "messages": 1},
    ]
    assert topology.orphans(listing) == [
        {"name": "evt-all--notifications.on_everything", "service": "notifications", "messages": 1},
        {
            "name": "evt-groups-member_joined--proposals.old_name",
            "service": "proposals",
            "messages": 3,
        },
        {
            "name": "evt-groups-member_joined--proposals.old_name.retry-1000ms",
            "service": "proposals",
            "messages": 0,
        },
    ]


def test_the_handler_timeout_is_a_setting():
    assert config.from_env({})["CIVIC_HANDLER_TIMEOUT"] == 60
    assert config.from_env({"CIVIC_HANDLER_TIMEOUT": "2.5"})["CIVIC_HANDLER_TIMEOUT"] == 2.5
    for bad in ("0", "-1", "soon"):
        with pytest.raises(config.ConfigError):
            config.from_env({"CIVIC_HANDLER_TIMEOUT": bad})


# --- finding 6: a suspect (a redelivered message) runs alone ------------------------------


def _isolation():
    from civic.messaging import SuspectIsolation

    gate = SuspectIsolation()
    gate.setup()
    return gate


def test_a_suspect_waits_for_the_running_handlers_and_runs_alone():
    import eventlet

    gate = _isolation()
    events = []
    gate.enter()
    gate.enter()

    def suspect():
        gate.isolate()
        events.append("suspect runs")
        eventlet.sleep(0.05)
        events.append("suspect done")
        gate.release()

    def late_handler():
        eventlet.sleep(0.01)  # arrives while the suspect waits or runs
        gate.enter()
        events.append("late handler runs")
        gate.leave()

    threads = [eventlet.spawn(suspect), eventlet.spawn(late_handler)]
    eventlet.sleep(0.02)
    assert events == []  # two handlers still run: the suspect waits
    gate.leave()
    gate.leave()
    for thread in threads:
        thread.wait()
    assert events == ["suspect runs", "suspect done", "late handler runs"]


def test_counted_starts_survive_and_are_forgotten_after_success(tmp_path):
    from civic.db import ServiceDatabase, service_metadata
    from civic.messaging import count_start, forget_starts

    metadata = service_metadata()
    kernel_tables(metadata)
    database = ServiceDatabase(
        "toy", metadata, url=f"sqlite:///{tmp_path / 'toy.db'}", amqp_uri="amqp://nowhere//"
    )
    try:
        database.create_all()
        assert [count_start(database, "m-1", "toy.h") for _ in range(3)] == [1, 2, 3]
        assert count_start(database, "m-1", "toy.other") == 1
        forget_starts(database, "m-1", "toy.h")
        assert count_start(database, "m-1", "toy.h") == 1
    finally:
        database.dispose()
