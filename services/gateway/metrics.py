"""Prometheus metrics of the HTTP edge, in a registry of this module's own, and who may
scrape them (`may_scrape`: clients in CIVIC_METRICS_ALLOW; staff always).

A dedicated registry (not prometheus_client's global one) so that importing the module
again, or running several gateways in one test process, never registers a metric twice.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

REGISTRY = CollectorRegistry(auto_describe=True)

REQUESTS = Counter(
    "civic_http_requests",
    "HTTP requests answered by the gateway",
    ["method", "route", "status"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "civic_http_request_duration_seconds",
    "Time from receiving a request to having its response",
    ["method", "route"],
    registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

# Who may scrape without signing in when CIVIC_METRICS_ALLOW is not configured.
LOOPBACK = ("127.0.0.0/8", "::1/128")
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "<unmatched>"


def observe(method: str, route: str | None, status: int, seconds: float) -> None:
    # Labels stay bounded: the route template (not the path) and known methods only.
    method = method if method in KNOWN_METHODS else "OTHER"
    route = route or UNMATCHED_ROUTE
    REQUESTS.labels(method=method, route=route, status=str(status)).inc()
    LATENCY.labels(method=method, route=route).observe(seconds)


def may_scrape(address: str | None, networks) -> bool:
    """Whether a client at `address` is in one of `networks` (CIVIC_METRICS_ALLOW)."""
    try:
        ip = ipaddress.ip_address((address or "").split("%")[0])
    except ValueError:
        return False
    if ip.version == 6 and ip.ipv4_mapped is not None:  # ::ffff:127.0.0.1
        ip = ip.ipv4_mapped
    return any(ip in _network(network) for network in networks)


@lru_cache(maxsize=64)
def _network(text: str):
    return ipaddress.ip_network(text, strict=False)


def exposition() -> tuple[bytes, str]:
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
