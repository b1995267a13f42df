"""RPC between services, with a timeout, request ids and requests that expire.

nameko's in-service RPC client waits forever for a reply. `Services` wraps it: every
call gives up after `CIVIC_RPC_TIMEOUT` seconds (or the `timeout=` given) and raises
`Unavailable`, as does a call to a service that has never started (no queue bound).
The whole call is inside that time, the request's publish too: a broker that stops
answering makes the call give up, not hang.

A request that timed out never runs later: its message expires (AMQP `expiration`)
when its caller stops waiting, so RabbitMQ drops it from the service's queue, and it
carries its deadline (`request_deadline_ms`) for a service that took it and would run
it late (civic.commands).

The caller's correlation and actor ids travel in the headers, as nameko does, and so
does a request id per call, when the worker has a request key (the gateway sets one
per HTTP request, see services.gateway.http) or is itself a command with a request id:
`sha256(key, service.method, n)` for the n-th call to that method in this worker, so
the same HTTP request sent again (an Idempotency-Key, a website form's key) asks each
service with the same ids, and a command recorded the first time answers as it did
then (civic.commands).
"""

from __future__ import annotations

from collections import Counter
from functools import partial

import eventlet
from nameko.exceptions import UnknownService
from nameko.rpc import Client, ClusterRpc

from civic import config
from civic.commands import REQUEST_DEADLINE, REQUEST_ID, deadline_ms, derived_request_id
from civic.errors import Unavailable
from civic.log import get_logger

log = get_logger(__name__)

# A worker's context key: what its calls' request ids are made from (see the docstring).
REQUEST_KEY = "request_key"


class ServiceCall:
    def __init__(self, client, pending: dict, service: str, default_timeout: float, calls=None):
        self._client = client
        self._pending = pending
        self._service = service
        self._default_timeout = default_timeout
        self._calls = calls if calls is not None else Counter()

    def __getattr__(self, method: str):
        def call(*args, timeout: float | None = None, **kwargs):
            return self.call(method, *args, timeout=timeout, **kwargs)

        return call

    def call(self, method: str, *args, timeout: float | None = None, **kwargs):
        seconds = timeout or self._default_timeout
        registered = []

        def register_for_reply(correlation_id):
            registered.append(correlation_id)
            return self._client.register_for_reply(correlation_id)

        target = Client(
            partial(self._client.publish, expiration=seconds),
            register_for_reply,
            self._context_of_call(method, seconds),
            self._service,
            method,
        )
        try:
            with eventlet.Timeout(seconds):
                return target.call_async(*args, **kwargs).result()
        except UnknownService:
            raise Unavailable(f"the {self._service} service is not running") from None
        except eventlet.Timeout:
            # Forget the call, so a late reply does not pile up in the listener.
            for correlation_id in registered:
                self._pending.pop(correlation_id, None)
            log.warning(
                "rpc_timeout",
                target=f"{self._service}.{method}",
                timeout_s=seconds,
                published=bool(registered),
            )
            raise Unavailable(f"the {self._service} service did not answer in time") from None

    def _context_of_call(self, method: str, seconds: float) -> dict:
        """The worker's context for one call's headers, with its request id and deadline."""
        context = dict(getattr(self._client, "context_data", None) or {})
        base = context.pop(REQUEST_ID, None) or context.pop(REQUEST_KEY, None)
        context.pop(REQUEST_KEY, None)
        if base:
            target = f"{self._service}.{method}"
            context[REQUEST_ID] = derived_request_id(base, target, self._calls[target])
            self._calls[target] += 1
        context[REQUEST_DEADLINE] = deadline_ms(seconds)
        return context


class ServiceClients:
    def __init__(self, client, pending, default_timeout):
        self._client = client
        self._pending = pending
        self._default_timeout = default_timeout
        self._calls = Counter()  # per worker: the n-th call of each service.method

    def __getattr__(self, service: str) -> ServiceCall:
        return ServiceCall(self._client, self._pending, service, self._default_timeout, self._calls)

    def __getitem__(self, service: str) -> ServiceCall:
        return getattr(self, service)


class Services(ClusterRpc):
    """`self.services.groups.get_account(account_id)`: RPC with a bounded wait.

    nameko's publisher declares the reply queue (exchange, queue, binding: three
    synchronous broker round trips) before *every* request, because kombu never caches
    the declaration of a queue with `x-expires`. The reply listener declares that queue
    itself whenever it (re)connects, which is when it can be missing, so requests do
    not (issue 14: ~1 ms of a ~6 ms request, 19% of the gateway's CPU). Were the queue
    ever gone all the same, the reply is dropped and the call ends in `Unavailable` at
    its timeout, as for any lost reply.
    """

    def setup(self):
        super().setup()
        self.publisher.declare = []

    def get_dependency(self, worker_ctx):
        client = super().get_dependency(worker_ctx)
        return ServiceClients(
            client, self.reply_listener.pending, config.get("CIVIC_RPC_TIMEOUT", 5.0)
        )
