"""What the chaos workload's clients were told: one `Operation` per HTTP request.

The checker (checker.py) judges the final state against this record, Jepsen-style: it
needs, for every request, what the request meant to change (`effect` and `action`) and
what the client learnt (`outcome`):

- `ok`: a 2xx answer — the client was told it happened;
- `failed`: a 4xx answer — the client was told it did not happen (nothing to find);
- `unknown`: a timeout, a dropped connection or a 5xx (503 included) — it may or may not
  have happened, and the client cannot tell.

A 409 on an add (already supported, already a member, …) and a 404 on a remove (not
registered, not following, …) are `failed` here like any 4xx; the checker reads them as
"the thing is there" and "the thing is not there" respectively (see its docstring).

`effect` is a tuple naming the one thing the request adds or removes, the same tuple for
every request about that thing, e.g. `("support", proposal_id, account_id)`, or, for a
resource the server names, the client-chosen marker put in its title or body,
`("proposal", "<tag>-p-3-17")`. `action` is `add`, `remove` or `none` (reads, sign-ins).

Kept as JSON lines (one header line, then one line per operation) so a round's history
can be read back after the run (`History.save` / `History.load`).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

OK, FAILED, UNKNOWN = "ok", "failed", "unknown"
ADD, REMOVE, NONE = "add", "remove", "none"
OUTCOMES = (OK, FAILED, UNKNOWN)
ACTIONS = (ADD, REMOVE, NONE)


def outcome_of(status: int | None) -> str:
    """The client's knowledge from an HTTP status (None: no answer at all)."""
    if status is None or status >= 500:
        return UNKNOWN
    if 200 <= status < 300:
        return OK
    return FAILED


@dataclass
class Operation:
    client: int
    kind: str
    method: str
    path: str
    body: dict | None = None
    actor_id: str | None = None
    effect: tuple | None = None
    action: str = NONE
    idempotency_key: str | None = None
    correlation_id: str | None = None
    started_at: float = 0.0
    ended_at: float = 0.0
    status: int | None = None
    outcome: str = UNKNOWN
    response: dict | list | None = None
    error: str | None = None

    def __post_init__(self):
        if self.action not in ACTIONS:
            raise ValueError(f"action must be one of {ACTIONS}, got {self.action!r}")
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, got {self.outcome!r}")
        if self.effect is not None:
            self.effect = tuple(self.effect)

    @property
    def poison(self) -> bool:
        return bool(self.correlation_id and self.correlation_id.startswith("chaos-poison-"))

    def to_dict(self) -> dict:
        data = asdict(self)
        data["effect"] = list(self.effect) if self.effect is not None else None
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Operation:
        return cls(**data)


@dataclass
class History:
    """A round's operations, in the order they ended, and the accounts it made."""

    tag: str
    started_at: float = field(default_factory=time.time)
    ended_at: float | None = None
    operations: list[Operation] = field(default_factory=list)
    # The round's own accounts: id -> email.
    accounts: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def record(self, operation: Operation) -> Operation:
        with self._lock:
            self.operations.append(operation)
        return operation

    def add_account(self, account_id: str, email: str) -> None:
        with self._lock:
            self.accounts[account_id] = email

    def __len__(self) -> int:
        return len(self.operations)

    def __iter__(self):
        return iter(list(self.operations))

    def counts_by_outcome(self) -> dict[str, int]:
        counted = Counter(operation.outcome for operation in self.operations)
        return {outcome: counted.get(outcome, 0) for outcome in OUTCOMES}

    def by_effect(self) -> dict[tuple, list[Operation]]:
        """The operations that add or remove each thing, in the order they started."""
        grouped: dict[tuple, list[Operation]] = {}
        for operation in sorted(self.operations, key=lambda op: op.started_at):
            if operation.effect is not None and operation.action != NONE:
                grouped.setdefault(operation.effect, []).append(operation)
        return grouped

    # --- files ------------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        header = {
            "tag": self.tag,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "accounts": self.accounts,
        }
        with path.open("w", encoding="utf-8") as stream:
            stream.write(json.dumps(header, ensure_ascii=False) + "\n")
            for operation in self.operations:
                stream.write(json.dumps(operation.to_dict(), ensure_ascii=False) + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path) -> History:
        with Path(path).open(encoding="utf-8") as stream:
            header = json.loads(stream.readline())
            operations = [Operation.from_dict(json.loads(line)) for line in stream if line.strip()]
        return cls(
            tag=header["tag"],
            started_at=header["started_at"],
            ended_at=header["ended_at"],
            operations=operations,
            accounts=header["accounts"],
        )
