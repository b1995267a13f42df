"""Domain errors survive nameko's RPC serialisation unchanged."""

from nameko.exceptions import deserialize, serialize

from civic.errors import Conflict, NotFound, ValidationError


def test_error_without_fields_crosses_rpc_without_fields():
    back = deserialize(serialize(NotFound("no such group")))
    assert type(back) is NotFound
    assert back.to_dict() == {"error": {"code": "not_found", "message": "no such group"}}


def test_error_with_fields_crosses_rpc_with_them():
    back = deserialize(serialize(ValidationError("bad", fields={"email": ["Not valid."]})))
    assert type(back) is ValidationError
    assert back.to_dict()["error"]["fields"] == {"email": ["Not valid."]}
    assert back.status == 400


def test_conflict_keeps_its_status_and_code():
    back = deserialize(serialize(Conflict("already a member")))
    assert (back.status, back.code, str(back)) == (409, "conflict", "already a member")
