"""Prometheus metrics of the HTTP edge, in a registry of this module's own.

A dedicated registry (not prometheus_client's global one) so that importing the module
again, or running several gateways in one test process, never registers a metric twice.
"""
from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client import generate_latest

REGISTRY = CollectorRegistry(auto_describe=True)

REQUESTS = Counter("civic_http_requests", "HTTP requests answered by the gateway",
                   ["method", "route", "status"], registry=REGISTRY)
LATENCY = Histogram("civic_http_request_duration_seconds",
                    "Time from receiving a request to having its response",
                    ["method", "route"], registry=REGISTRY,
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))

KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "<unmatched>"


def observe(method: str, route: str | None, status: int, seconds: float) -> None:
    # Labels stay bounded: the route template (not the path) and known methods only.
    method = method if method in KNOWN_METHODS else "OTHER"
    route = route or UNMATCHED_ROUTE
    REQUESTS.labels(method=method, route=route, status=str(status)).inc()
    LATENCY.labels(method=method, route=route).observe(seconds)


def exposition() -> tuple[bytes, str]:
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
