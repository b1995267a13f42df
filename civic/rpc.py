"""RPC between services, with a timeout.

nameko's in-service RPC client waits forever for a reply. `Services` wraps it: every
call gives up after `CIVIC_RPC_TIMEOUT` seconds (or the `timeout=` given) and raises
`Unavailable`, as does a call to a service that has never started (no queue bound).
The caller's correlation and actor ids travel in the headers, as nameko does.
"""

from __future__ import annotations

import eventlet
from nameko.exceptions import UnknownService
from nameko.rpc import ClusterRpc

from civic import config
from civic.errors import Unavailable
from civic.log import get_logger

log = get_logger(__name__)


class ServiceCall:
    def __init__(self, client, pending: dict, service: str, default_timeout: float):
        self._client = client
        self._pending = pending
        self._service = service
        self._default_timeout = default_timeout

    def __getattr__(self, method: str):
        def call(*args, timeout: float | None = None, **kwargs):
            return self.call(method, *args, timeout=timeout, **kwargs)

        return call

    def call(self, method: str, *args, timeout: float | None = None, **kwargs):
        seconds = timeout or self._default_timeout
        target = getattr(getattr(self._client, self._service), method)
        try:
            pending_call = target.call_async(*args, **kwargs)
        except UnknownService:
            raise Unavailable(f"the {self._service} service is not running") from None
        try:
            with eventlet.Timeout(seconds):
                return pending_call.result()
        except eventlet.Timeout:
            # Forget the call, so a late reply does not pile up in the listener.
            self._pending.pop(pending_call.correlation_id, None)
            log.warning("rpc_timeout", target=f"{self._service}.{method}", timeout_s=seconds)
            raise Unavailable(f"the {self._service} service did not answer in time") from None


class ServiceClients:
    def __init__(self, client, pending, default_timeout):
        self._client = client
        self._pending = pending
        self._default_timeout = default_timeout

    def __getattr__(self, service: str) -> ServiceCall:
        return ServiceCall(self._client, self._pending, service, self._default_timeout)

    def __getitem__(self, service: str) -> ServiceCall:
        return getattr(self, service)


class Services(ClusterRpc):
    """`self.services.groups.get_account(account_id)`: RPC with a bounded wait."""

    def get_dependency(self, worker_ctx):
        client = super().get_dependency(worker_ctx)
        return ServiceClients(
            client, self.reply_listener.pending, config.get("CIVIC_RPC_TIMEOUT", 5.0)
        )
