"""The event envelope and the catalogue of event contracts.

Every event crosses the broker as one JSON envelope. Producers validate `data` against
the contract before the event is written to the outbox; consumers validate the envelope
and `data` before their handler runs. A consumer ignores unknown fields and refuses a
version it cannot read.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate

from civic.errors import ContractError

GROUP_KINDS = ("working_group", "association", "business", "network")


class EnvelopeSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    id = fields.UUID(required=True)
    type = fields.String(required=True, validate=validate.Length(min=1, max=100))
    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    occurred_at = fields.AwareDateTime(required=True)
    producer = fields.String(required=True, validate=validate.Length(min=1, max=50))
    correlation_id = fields.String(required=True, validate=validate.Length(min=1, max=100))
    actor_id = fields.String(load_default=None, allow_none=True)
    data = fields.Dict(required=True)


@dataclass(frozen=True)
class Envelope:
    id: str
    type: str
    version: int
    occurred_at: datetime
    producer: str
    correlation_id: str
    actor_id: str | None
    data: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "id": self.id, "type": self.type, "version": self.version,
            "occurred_at": self.occurred_at.isoformat(), "producer": self.producer,
            "correlation_id": self.correlation_id, "actor_id": self.actor_id,
            "data": self.data,
        }


@dataclass(frozen=True)
class Contract:
    type: str
    version: int
    producer: str
    schema: type[Schema]
    description: str


CATALOGUE: dict[str, Contract] = {}


def contract(type_, producer, description, version=1):
    """Class decorator: register the schema of an event's `data` in the catalogue."""
    def register(schema_cls):
        if type_ in CATALOGUE:
            raise ValueError(f"event type {type_!r} is registered twice")
        CATALOGUE[type_] = Contract(type_, version, producer, schema_cls, description)
        return schema_cls
    return register


def get_contract(type_: str) -> Contract:
    try:
        return CATALOGUE[type_]
    except KeyError:
        raise ContractError(f"unknown event type {type_!r}") from None


def new_envelope(type_: str, data: dict, *, producer: str, correlation_id: str | None,
                 actor_id: str | None = None) -> Envelope:
    """Build a validated envelope; raises ContractError if `data` breaks the contract."""
    found = get_contract(type_)
    if found.producer != producer:
        raise ContractError(f"{producer!r} may not publish {type_!r} "
                            f"(its producer is {found.producer!r})")
    try:
        clean = found.schema(unknown=RAISE).dump(found.schema(unknown=RAISE).load(data))
    except ValidationError as exc:
        raise ContractError(f"{type_} data breaks its contract: {exc.messages}") from None
    return Envelope(id=str(uuid.uuid4()), type=type_, version=found.version,
                    occurred_at=datetime.now(timezone.utc), producer=producer,
                    correlation_id=correlation_id or str(uuid.uuid4()),
                    actor_id=actor_id, data=clean)


def parse_envelope(body, expected_type: str | None = None) -> Envelope:
    """Validate a received message body; raises ContractError on anything unreadable."""
    if not isinstance(body, dict):
        raise ContractError("message body is not a JSON object")
    try:
        raw = EnvelopeSchema().load(body)
    except ValidationError as exc:
        raise ContractError(f"malformed envelope: {exc.messages}") from None
    if expected_type is not None and raw["type"] != expected_type:
        raise ContractError(f"expected {expected_type!r}, got {raw['type']!r}")
    found = get_contract(raw["type"])
    if raw["version"] != found.version:
        raise ContractError(f"{raw['type']} version {raw['version']} cannot be read "
                            f"(this code reads version {found.version})")
    try:
        data = found.schema(unknown=EXCLUDE).load(raw["data"])
    except ValidationError as exc:
        raise ContractError(f"{raw['type']} data breaks its contract: {exc.messages}") from None
    data = found.schema().dump(data)
    return Envelope(id=str(raw["id"]), type=raw["type"], version=raw["version"],
                    occurred_at=raw["occurred_at"], producer=raw["producer"],
                    correlation_id=raw["correlation_id"], actor_id=raw["actor_id"],
                    data=data)


# --- groups -------------------------------------------------------------------------

def _id():
    return fields.String(required=True, validate=validate.Length(min=1, max=64))


@contract("account_registered", "groups", "A resident created an account.")
class AccountRegistered(Schema):
    account_id = _id()
    display_name = fields.String(required=True)
    locale = fields.String(required=True, validate=validate.OneOf(["sv", "en"]))


@contract("account_erased", "groups",
          "An account was erased: every service anonymises or deletes what it holds.")
class AccountErased(Schema):
    account_id = _id()


@contract("group_created", "groups", "A group was created; its creator is its admin.")
class GroupCreated(Schema):
    group_id = _id()
    name = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(GROUP_KINDS))
    open = fields.Boolean(required=True)
    created_by = _id()


@contract("member_joined", "groups", "An account became a member of a group.")
class MemberJoined(Schema):
    group_id = _id()
    account_id = _id()
    role = fields.String(required=True, validate=validate.OneOf(["admin", "member"]))


@contract("member_left", "groups", "An account left (or was removed from) a group.")
class MemberLeft(Schema):
    group_id = _id()
    account_id = _id()


@contract("join_requested", "groups", "An account asked to join a closed group.")
class JoinRequested(Schema):
    group_id = _id()
    account_id = _id()
    admin_ids = fields.List(fields.String(), required=True)


@contract("group_verified", "groups", "Staff verified an association or business.")
class GroupVerified(Schema):
    group_id = _id()


@contract("group_joined_network", "groups", "A group joined a network.")
class GroupJoinedNetwork(Schema):
    group_id = _id()
    network_id = _id()
