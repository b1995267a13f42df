"""The event envelope and the catalogue: what producers may write, what consumers accept."""

import json
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import MetaData, select

from civic.contracts import CATALOGUE, Envelope, new_envelope, parse_envelope
from civic.db import ServiceDatabase, kernel_tables
from civic.errors import ContractError

MEMBER = {"group_id": "g-1", "account_id": "a-1", "role": "member"}


def published(**overrides) -> dict:
    """A member_joined envelope as it crosses the broker (JSON round trip), with
    `overrides` applied to the body as received."""
    envelope = new_envelope(
        "member_joined", MEMBER, producer="groups", correlation_id="corr-1", actor_id="a-1"
    )
    body = json.loads(json.dumps(envelope.to_dict()))
    body.update(overrides)
    return body


# --- receiving ------------------------------------------------------------------------


def test_a_published_envelope_reads_back_the_same():
    envelope = new_envelope(
        "member_joined", MEMBER, producer="groups", correlation_id="corr-1", actor_id="a-1"
    )
    received = parse_envelope(json.loads(json.dumps(envelope.to_dict())), "member_joined")
    assert received == envelope
    assert isinstance(received, Envelope)
    assert received.occurred_at.utcoffset() is not None


@pytest.mark.parametrize(
    "missing", ["id", "type", "version", "occurred_at", "producer", "correlation_id", "data"]
)
def test_an_envelope_missing_a_field_is_refused(missing):
    body = published()
    del body[missing]
    with pytest.raises(ContractError):
        parse_envelope(body)


def test_actor_id_may_be_absent_or_null():
    body = published()
    del body["actor_id"]
    assert parse_envelope(body).actor_id is None
    assert parse_envelope(published(actor_id=None)).actor_id is None


@pytest.mark.parametrize(
    "field, value",
    [
        ("id", "not-a-uuid"),
        ("version", "1"),  # strict: a string is not a version
        ("version", 0),
        ("occurred_at", "2026-11-28T10:00:00"),  # no offset: ambiguous
        ("occurred_at", "yesterday"),
        ("correlation_id", ""),
        ("data", ["not", "an", "object"]),
    ],
)
def test_an_envelope_with_a_malformed_field_is_refused(field, value):
    with pytest.raises(ContractError):
        parse_envelope(published(**{field: value}))


@pytest.mark.parametrize("body", [None, "a string", b"bytes", ["a", "list"], 42])
def test_a_body_that_is_not_a_json_object_is_refused(body):
    with pytest.raises(ContractError, match="not a JSON object"):
        parse_envelope(body)


def test_a_version_this_code_cannot_read_is_refused():
    with pytest.raises(ContractError, match="version 2 cannot be read"):
        parse_envelope(published(version=2))


def test_unknown_fields_are_ignored_on_receive():
    body = published(schema_hint="from the future")
    body["data"]["added_later"] = True
    received = parse_envelope(body, "member_joined")
    assert received.data == MEMBER
    assert not hasattr(received, "schema_hint")


def test_data_that_breaks_the_contract_is_refused_on_receive():
    with pytest.raises(ContractError, match="breaks its contract"):
        parse_envelope(published(data={**MEMBER, "role": "owner"}))
    body = published()
    del body["data"]["account_id"]
    with pytest.raises(ContractError, match="breaks its contract"):
        parse_envelope(body)


def test_an_unknown_type_is_refused_on_receive():
    with pytest.raises(ContractError, match="unknown event type"):
        parse_envelope(published(type="member_teleported"))


def test_a_type_other_than_the_subscribed_one_is_refused():
    with pytest.raises(ContractError, match="expected 'member_left'"):
        parse_envelope(published(), "member_left")


# --- publishing -----------------------------------------------------------------------


def test_new_envelope_is_complete():
    before = datetime.now(UTC)
    envelope = new_envelope(
        "group_verified", {"group_id": "g-1"}, producer="groups", correlation_id=None
    )
    assert uuid.UUID(envelope.id)
    assert envelope.type == "group_verified"
    assert envelope.version == CATALOGUE["group_verified"].version
    assert envelope.producer == "groups"
    assert before <= envelope.occurred_at <= datetime.now(UTC)
    assert uuid.UUID(envelope.correlation_id)  # one is made up when none is given
    assert envelope.actor_id is None
    assert envelope.data == {"group_id": "g-1"}


def test_new_envelope_takes_the_callers_clock():
    # A domain function runs on an injected `now`: what it publishes happened then,
    # not when the wall clock says (the cause of issue 9).
    moment = datetime(2031, 2, 3, 4, 5, tzinfo=UTC)
    envelope = new_envelope(
        "group_verified",
        {"group_id": "g-1"},
        producer="groups",
        correlation_id="c",
        occurred_at=moment,
    )
    assert envelope.occurred_at == moment
    received = parse_envelope(json.loads(json.dumps(envelope.to_dict())), "group_verified")
    assert received.occurred_at == moment
    with pytest.raises(ContractError, match="timezone-aware"):
        new_envelope(
            "group_verified",
            {"group_id": "g-1"},
            producer="groups",
            correlation_id="c",
            occurred_at=datetime(2031, 2, 3, 4, 5),
        )


class _RollBack(Exception):
    pass


def test_the_outbox_keeps_the_callers_clock(tmp_path):
    # uow.publish hands `occurred_at` through to the envelope written to the outbox.
    metadata = MetaData()
    kernel_tables(metadata)
    database = ServiceDatabase(
        "groups", metadata, url=f"sqlite:///{tmp_path}/groups.db", amqp_uri="memory://"
    )
    database.create_all()
    moment = datetime(2031, 2, 3, 4, 5, tzinfo=UTC)
    try:
        with pytest.raises(_RollBack):  # nothing is committed: nothing goes to a broker
            with database.unit_of_work() as uow:
                published = uow.publish("group_verified", {"group_id": "g-1"}, occurred_at=moment)
                stored = uow.session.execute(select(database.outbox.c.envelope)).scalar_one()
                raise _RollBack
    finally:
        database.dispose()
    assert published.occurred_at == moment
    assert parse_envelope(json.loads(stored), "group_verified").occurred_at == moment


def test_unknown_fields_are_refused_on_publish():
    with pytest.raises(ContractError, match="breaks its contract"):
        new_envelope(
            "member_joined", {**MEMBER, "nickname": "x"}, producer="groups", correlation_id="c"
        )


def test_missing_or_invalid_data_is_refused_on_publish():
    with pytest.raises(ContractError):
        new_envelope("member_joined", {"group_id": "g-1"}, producer="groups", correlation_id="c")
    with pytest.raises(ContractError):
        new_envelope(
            "group_created",
            {"group_id": "g", "name": "n", "kind": "club", "open": True, "created_by": "a"},
            producer="groups",
            correlation_id="c",
        )


def test_a_service_may_only_publish_its_own_events():
    with pytest.raises(ContractError, match="may not publish"):
        new_envelope("member_joined", MEMBER, producer="proposals", correlation_id="c")


def test_an_unknown_type_is_refused_on_publish():
    with pytest.raises(ContractError, match="unknown event type"):
        new_envelope("member_teleported", MEMBER, producer="groups", correlation_id="c")


def test_every_catalogued_contract_is_well_formed():
    assert CATALOGUE, "the catalogue is empty"
    for type_, found in CATALOGUE.items():
        assert found.type == type_
        assert found.version >= 1
        assert found.producer and found.description
        assert found.schema._declared_fields, f"{type_} has no fields"
