"""Drive N client threads through a fixed number of requests and time each one.

Each thread first builds its client and warms it up (connections open, caches hot);
then all threads start together at a barrier and take requests from one shared count
until the total is reached, so every thread stays busy to the end. The clock for
throughput runs from the barrier to the last reply.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from bench.environment import BenchError


class Client(Protocol):
    def call(self) -> None: ...
    def close(self) -> None: ...


@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list)  # seconds, successful requests
    errors: int = 0
    first_error: str | None = None
    elapsed: float = 0.0
    unfinished: int = 0  # requests never started because the deadline passed


def run_load(
    make_client: Callable[[], Client],
    concurrency: int,
    total: int,
    warmup_per_client: int,
    deadline: float,
) -> LoadResult:
    """Run `total` timed requests over `concurrency` threads; `deadline` is monotonic."""
    if concurrency < 1 or total < 1 or warmup_per_client < 0:
        raise ValueError("concurrency and total must be positive, warmup not negative")
    start_together = threading.Barrier(concurrency + 1)
    lock = threading.Lock()
    result = LoadResult()
    state = {"issued": 0, "setup_error": None, "last_done": 0.0}

    def record_error(message: str) -> None:
        with lock:
            result.errors += 1
            if result.first_error is None:
                result.first_error = message

    def next_ticket() -> bool:
        with lock:
            if state["issued"] >= total or time.monotonic() > deadline:
                return False
            state["issued"] += 1
            return True

    def worker() -> None:
        client = None
        try:
            client = make_client()
            for _ in range(warmup_per_client):
                client.call()
        except Exception as exc:
            with lock:
                state["setup_error"] = state["setup_error"] or f"{type(exc).__name__}: {exc}"
            start_together.abort()
            if client is not None:
                client.close()
            return
        try:
            start_together.wait()
        except threading.BrokenBarrierError:
            client.close()
            return
        latencies = []
        try:
            while next_ticket():
                started = time.perf_counter()
                try:
                    client.call()
                except Exception as exc:
                    record_error(f"{type(exc).__name__}: {exc}")
                    continue
                latencies.append(time.perf_counter() - started)
        finally:
            finished = time.perf_counter()
            client.close()
            with lock:
                result.latencies.extend(latencies)
                state["last_done"] = max(state["last_done"], finished)

    threads = [
        threading.Thread(target=worker, name=f"bench-client-{index}", daemon=True)
        for index in range(concurrency)
    ]
    for thread in threads:
        thread.start()
    try:
        start_together.wait(timeout=max(0.1, deadline - time.monotonic()))
    except threading.BrokenBarrierError:
        for thread in threads:
            thread.join(timeout=max(0.1, deadline - time.monotonic()))
        reason = state["setup_error"] or "clients not ready before the deadline"
        raise BenchError(f"client set-up or warm-up failed: {reason}") from None
    started = time.perf_counter()
    for thread in threads:
        thread.join(timeout=max(0.1, deadline - time.monotonic()) + 30)
    if any(thread.is_alive() for thread in threads):
        raise BenchError("client threads still busy after the deadline")
    result.elapsed = state["last_done"] - started
    result.unfinished = total - state["issued"]
    return result


def split_evenly(total: int, parts: int) -> list[int]:
    """`total` requests in `parts` rounds as even as counts allow (the first rounds take
    the remainder): 10 in 3 → [4, 3, 3]."""
    if total < 0 or parts < 1:
        raise ValueError("total must not be negative, parts must be positive")
    base, extra = divmod(total, parts)
    return [base + (1 if index < extra else 0) for index in range(parts)]


def turns(names: list[str], rounds: int) -> list[list[str]]:
    """The order the scenarios run in, round by round: as given, then reversed, and so
    on, so that neither runs first (or last) in every round."""
    if rounds < 1:
        raise ValueError("rounds must be positive")
    return [list(names) if index % 2 == 0 else list(reversed(names)) for index in range(rounds)]


def combine(results: list[LoadResult]) -> LoadResult:
    """One scenario's rounds as one result: every latency, the errors and the requests
    not sent added up, the first error kept, and the time spent in its own rounds (not
    the others' between them) as its elapsed time."""
    combined = LoadResult()
    for result in results:
        combined.latencies.extend(result.latencies)
        combined.errors += result.errors
        combined.unfinished += result.unfinished
        combined.elapsed += result.elapsed
        if combined.first_error is None:
            combined.first_error = result.first_error
    return combined
