"""Command records: a state-changing RPC request runs once, however often it arrives.

nameko acknowledges an RPC request after its reply: a service killed after its commit
and before its reply gets the request again, and would act twice. So every
state-changing request carries a request id (the `request_id` context header: the
gateway makes one per HTTP request, or derives it from the client's `Idempotency-Key`
or a website form's key; see civic.rpc for how each call gets its own), and a method
declared `@rpc(command=True)` (civic.service) runs through `command`:

- in one transaction with the method's own unit of work (its `with self.db` blocks nest
  in it), the record `(request_id, method, fingerprint, response)` is written first and
  the answer filled in after the method ran: the record and the effect commit together
  or not at all;
- a request whose id has a record gets the stored answer — the result, or the same
  CivicError raised again — and does nothing again;
- concurrent twins: the record's primary key makes the second one wait for the first
  (PostgreSQL) and fail; it then answers what the first stored;
- the same id with other arguments (its fingerprint differs) is refused with
  `IdempotencyKeyReused` (HTTP 422) when the first one did something; when the first
  one was refused (a stored error, nothing was done), the new request replaces it, so
  that a corrected form can be sent with the same key;
- a CivicError answer (400, 403, 404, 409…) is recorded in a transaction of its own
  after the effect was rolled back; infrastructure faults and `Unavailable` or
  `RateLimited` are not answers, nothing is recorded and a retry runs again;
- a request whose caller has given up (its `request_deadline_ms` is past) and that has
  no record is not run: nobody waits for its answer, and the caller may be retrying it.
  (RabbitMQ drops such a request while it is queued, see civic.rpc; this catches one
  a service took before it expired and ran late.)

A request without a request id (the command line, a test) runs as a plain RPC.

The fingerprint is a sha256 of the method and its arguments bound to their names, the
actor reduced to its account id and secrets (`password`, `token`…: civic.log's
SECRET_KEYS) left out, so that a password leaves no plain hash in the table. Old
records are pruned by the retention timer (longer than a client may retry, API.md:
≥ 24 h); until then a record keeps the answer it gave (an account's, a proposal's).
"""

from __future__ import annotations

import hashlib
import hmac
import inspect
import json
import time
from functools import wraps

from kombu.utils.json import dumps as json_dumps
from kombu.utils.json import loads as json_loads
from nameko.exceptions import deserialize, deserialize_to_instance, serialize
from sqlalchemy import (
    Column,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from civic import prebuilt
from civic.clock import utcnow
from civic.errors import CivicError, RateLimited, Unavailable
from civic.log import SECRET_KEYS, get_logger
from civic.sqltypes import UTCDateTime

log = get_logger(__name__)

# The context headers of a request (nameko carries `context_data` as headers).
REQUEST_ID = "request_id"
REQUEST_DEADLINE = "request_deadline_ms"  # when the caller stops waiting (epoch ms)
REQUEST_ID_MAX = 64


@deserialize_to_instance
class IdempotencyKeyReused(CivicError):
    """The request id (an Idempotency-Key) was used before for another request."""

    code, status = "idempotency_key_reused", 422


def commands_table(metadata: MetaData) -> Table:
    """The command records, added to a service's own metadata (see civic.db.kernel_tables)."""
    return Table(
        "commands",
        metadata,
        Column("request_id", String(64), primary_key=True),
        Column("method", String(100), nullable=False),
        # sha256 of the request's arguments: the same id with other arguments is refused.
        Column("fingerprint", String(64), nullable=False),
        # The answer, as JSON (a result or a CivicError's description).
        Column("response", Text, nullable=True),
        Column("created_at", UTCDateTime, nullable=False, index=True),
    )


def request_id_of(context: dict) -> str | None:
    """The request id a caller sent, fit for the table's key (a longer one is hashed)."""
    given = context.get(REQUEST_ID)
    if not isinstance(given, str) or not given:
        return None
    if len(given) > REQUEST_ID_MAX:
        return hashlib.sha256(given.encode("utf-8")).hexdigest()
    return given


def derived_request_id(base: str, *parts) -> str:
    """A request id made from another one (a request's key, a caller's request id) and
    what tells its calls apart: the same parts always give the same id."""
    text = "\n".join([base, *(str(part) for part in parts)])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def deadline_ms(seconds: float) -> int:
    """The request deadline of a call that waits `seconds` from now."""
    return int((time.time() + seconds) * 1000)


def _expired(context: dict) -> bool:
    deadline = context.get(REQUEST_DEADLINE)
    return isinstance(deadline, int) and time.time() * 1000 > deadline


def fingerprint(method: str, arguments: dict) -> str:
    """sha256 of the method and its named arguments, the actor by its account id only
    (a renamed caller retrying is the same request) and secrets left out (a password
    leaves no plain hash in the table; every instance computes the same, whatever its
    key)."""
    named = _without_secrets(arguments)
    actor = named.get("actor")
    if isinstance(actor, dict) and "account_id" in actor:
        named["actor"] = actor["account_id"]
    text = json.dumps(
        {"method": method, "arguments": named},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _without_secrets(value):
    if isinstance(value, dict):
        return {
            key: _without_secrets(item)
            for key, item in value.items()
            if str(key).lower() not in SECRET_KEYS
        }
    if isinstance(value, (list, tuple)):
        return [_without_secrets(item) for item in value]
    return value


def _recordable(error: BaseException) -> bool:
    """A CivicError that is the command's answer (not a passing fault)."""
    return (
        isinstance(error, CivicError)
        and not isinstance(error, (Unavailable, RateLimited, IdempotencyKeyReused))
        and 400 <= error.status < 500
    )


class _Stored:
    """A record's answer: `answer()` returns the result or raises the error."""

    def __init__(self, response: str | None):
        self.payload = json_loads(response) if response else None

    @property
    def is_error(self) -> bool:
        return self.payload is None or "error" in self.payload

    def answer(self):
        if self.payload is None:  # (a committed record always has its answer)
            raise Unavailable("the same request is still being handled")
        if "error" in self.payload:
            raise deserialize(self.payload["error"])
        return self.payload["result"]


def command(function, fingerprinted: tuple[str, ...] | None = None):
    """`function` (a service's RPC method) run at most once per request id (see the
    module docstring). The service's `db` is its unit of work.

    `fingerprinted` names the only arguments the fingerprint covers (all by default):
    a command whose record must not tie its caller to what they sent (an anonymous
    consultation's answer) leaves both out; its request id is the caller's already."""
    signature = inspect.signature(function)
    method = function.__name__

    @wraps(function)
    def run(service, *args, **kwargs):
        uow = service.db
        request_id = request_id_of(uow.context_data)
        if request_id is None:
            return function(service, *args, **kwargs)
        bound = signature.bind(service, *args, **kwargs)
        bound.apply_defaults()
        arguments = dict(list(bound.arguments.items())[1:])  # without `self`
        if fingerprinted is not None:
            arguments = {name: arguments[name] for name in fingerprinted}
        records = CommandRecords(uow, request_id, method, fingerprint(method, arguments))
        return records.run(lambda: function(service, *args, **kwargs))

    # nameko checks a request's arguments against this before it starts a worker.
    run.__signature__ = signature
    run.civic_command = True
    return run


class CommandStatements:
    """The statements every recorded command runs, built once per `commands` table with
    their values as bind parameters: built afresh per call, SQLAlchemy worked out each
    one's cache key again (issue 14's profile of a write)."""

    def __init__(self, table: Table):
        self.find = select(table.c.method, table.c.fingerprint, table.c.response).where(
            table.c.request_id == bindparam("key")
        )
        self.record = insert(table)
        self.answer = (
            update(table)
            .where(table.c.request_id == bindparam("key"))
            .values(response=bindparam("answer"))
        )


class CommandRecords:
    """One request's record in a service's `commands` table, used through its worker's
    unit of work (`uow`, re-entrant: the method's own `with` blocks join its transaction)."""

    def __init__(self, uow, request_id: str, method: str, fingerprint: str):
        self.uow = uow
        self.table = uow.database.metadata.tables["commands"]
        self.statements = prebuilt.once(self.table, "commands", CommandStatements)
        self.request_id = request_id
        self.method = method
        self.fingerprint = fingerprint

    def run(self, act):
        try:
            with self.uow as uow:
                stored = self._stored(uow.session)
                if stored is not None:
                    return stored.answer()
                if _expired(self.uow.context_data):
                    log.warning("command_expired", method=self.method)
                    raise Unavailable("the request expired before it ran")
                # First, so that a concurrent twin waits here (PostgreSQL) and then fails.
                uow.session.execute(
                    self.statements.record,
                    {
                        "request_id": self.request_id,
                        "method": self.method,
                        "fingerprint": self.fingerprint,
                        "response": None,
                        "created_at": utcnow(),
                    },
                )
                result = act()
                uow.session.execute(
                    self.statements.answer,
                    {"key": self.request_id, "answer": json_dumps({"result": result})},
                )
            return result
        except IntegrityError:
            # A twin recorded this request first (or the effect broke a constraint of
            # its own: then there is no record and the error stands).
            stored = self._committed_answer()
            if stored is None:
                raise
            log.info("command_twin_answered", method=self.method)
            return stored.answer()
        except CivicError as error:
            if getattr(error, "civic_replayed", False) or not _recordable(error):
                raise
            return self._record_error(error)

    def _stored(self, session) -> _Stored | None:
        """The record's answer if there is one for this very request. Another request
        under the same id: refused if the first one acted, replaced if it was refused."""
        row = session.execute(self.statements.find, {"key": self.request_id}).first()
        if row is None:
            return None
        stored = _Stored(row.response)
        if row.method == self.method and hmac.compare_digest(row.fingerprint, self.fingerprint):
            log.info("command_replayed", method=self.method)
            return _Replay(stored)
        if stored.is_error and stored.payload is not None:
            session.execute(delete(self.table).where(self.table.c.request_id == self.request_id))
            return None
        raise _reused()

    def _committed_answer(self) -> _Stored | None:
        with self.uow as uow:
            return self._stored(uow.session)

    def _record_error(self, error: CivicError):
        """Record a refusal (its effect was rolled back) and raise it; a twin that
        recorded an answer first gives that answer instead."""
        try:
            with self.uow as uow:
                stored = self._stored(uow.session)
                if stored is None:
                    uow.session.execute(
                        insert(self.table).values(
                            request_id=self.request_id,
                            method=self.method,
                            fingerprint=self.fingerprint,
                            response=json_dumps({"error": serialize(error)}),
                            created_at=utcnow(),
                        )
                    )
        except IntegrityError:
            stored = self._committed_answer()
        if stored is not None:
            return stored.answer()
        raise error


class _Replay(_Stored):
    """A stored answer given again: an error it raises is marked, so it is not recorded
    a second time."""

    def __init__(self, stored: _Stored):
        self.payload = stored.payload

    def answer(self):
        try:
            return super().answer()
        except CivicError as error:
            error.civic_replayed = True
            raise


def _reused() -> IdempotencyKeyReused:
    error = IdempotencyKeyReused(
        "this request id (Idempotency-Key) was used before for another request: "
        "send a new key for a new request"
    )
    error.civic_replayed = True  # an answer about the key: nothing to record
    return error
