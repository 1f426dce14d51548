"""Prometheus metrics: HTTP traffic by route template, and the ledger's outcomes.

The ledger and the store know nothing of metrics: the API layer counts what the domain calls
returned (a created charge, a refund written, a charge refused for funds) after the transaction
that wrote it has committed. Routes are labelled by their template (``/internal/v1/predictions/{uuid}/status``),
never by the raw path, so a scan of random URLs cannot grow the series without bound.

Several worker processes: with ``PROMETHEUS_MULTIPROC_DIR`` set (to an empty directory, before
the server starts) prometheus-client keeps each process's values in files there and ``/metrics``
adds them up, so any worker answers for all of them. Without it each worker reports only itself.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.process_collector import ProcessCollector
from starlette.requests import Request
from starlette.responses import Response

from billbook.ledger.charges import BatchItem, ChargeResult, StatusChange

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

#: Where the metrics live in a single process. In multiprocess mode values go to files instead and
#: each scrape collects them into a fresh registry.
REGISTRY = CollectorRegistry(auto_describe=True)
if not MULTIPROCESS:
    ProcessCollector(registry=REGISTRY)

REQUESTS = Counter(
    "billbook_http_requests", "HTTP requests answered, by method, route template and status.",
    ("method", "route", "status"), registry=REGISTRY,
)
LATENCY = Histogram(
    "billbook_http_request_duration_seconds", "Time from request to the end of the response, by route template.",
    ("method", "route"), registry=REGISTRY,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
CHARGES = Counter("billbook_charges_created", "Charges written (a new deduct record); retries not counted.",
                  registry=REGISTRY)
CHARGES_DUPLICATE = Counter("billbook_charges_duplicate", "Charge retries answered with the existing record.",
                            registry=REGISTRY)
REFUNDS = Counter("billbook_refunds", "Refunds written for failed, cancelled or timed-out predictions.",
                  registry=REGISTRY)
INSUFFICIENT = Counter("billbook_insufficient_balance", "Charges refused because the balance was short.",
                       registry=REGISTRY)
RATE_LIMITED = Counter("billbook_rate_limited", "Requests refused by the per-key rate limit.", registry=REGISTRY)
RATE_LIMIT_ERRORS = Counter(
    "billbook_rate_limit_backend_errors", "Rate-limit checks that could not reach Redis (the request was let through).",
    registry=REGISTRY,
)

#: Children of REQUESTS and LATENCY, by label values: ``labels()`` costs a lock and a tuple per call.
_children: dict[tuple[str, str, int], tuple[MetricWrapperBase, MetricWrapperBase]] = {}


#: Methods kept as labels; any other (a server may pass arbitrary tokens) is counted as ``OTHER``.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    if method not in _METHODS:
        method = "OTHER"
    key = (method, route, status)
    pair = _children.get(key)
    if pair is None:
        pair = _children[key] = (REQUESTS.labels(method, route, str(status)), LATENCY.labels(method, route))
    pair[0].inc()  # type: ignore[attr-defined]
    pair[1].observe(seconds)  # type: ignore[attr-defined]


def charged(result: ChargeResult) -> None:
    (CHARGES if result.created else CHARGES_DUPLICATE).inc()


def charged_batch(outcomes: Iterable[BatchItem]) -> None:
    counts = {"created": 0, "duplicate": 0, "insufficient": 0}
    for outcome in outcomes:
        if outcome.status in counts:
            counts[outcome.status] += 1
    for metric, status in ((CHARGES, "created"), (CHARGES_DUPLICATE, "duplicate"), (INSUFFICIENT, "insufficient")):
        if counts[status]:
            metric.inc(counts[status])


def status_changed(change: StatusChange) -> None:
    if change.refund_record_id is not None:
        REFUNDS.inc()


def refused_for_funds() -> None:
    INSUFFICIENT.inc()


def clear_multiprocess_dir() -> None:
    """Empty ``PROMETHEUS_MULTIPROC_DIR`` before the workers start: files left by an earlier run
    would be added to this run's counters. Called once, by ``billbook serve``, never by a worker."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory or not os.path.isdir(directory):
        return
    for name in os.listdir(directory):
        if name.endswith(".db"):
            os.remove(os.path.join(directory, name))


def exposition() -> bytes:
    if MULTIPROCESS:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


async def endpoint(_request: Request) -> Response:
    """``GET /metrics`` in the Prometheus text format."""
    return Response(exposition(), media_type=CONTENT_TYPE_LATEST)
