"""Every Prometheus metric m3bng exports, defined in one place.

Two kinds, one naming scheme (``m3bng_*``):

- **Process metrics** through ``prometheus-client`` (the default registry): the receiver's
  webhooks, BODs, routing outcomes and dead letters; the worker's M3 and BNG calls, 429s, retry
  waits, reconciliation reports and the fleet gauges (``clients.metrics_server``).
- **Workflow metrics** through the Temporal SDK's ``workflow.metric_meter()``: replay-safe (nothing
  is recorded while a workflow replays), exported with the SDK's own worker metrics
  (``temporal_*``: schedule-to-start latency, slots…) by the runtime's Prometheus exporter.

Label values are bounded: programs, transactions, routes, stages, classes and reasons come from
code or from authenticated partners, never from free text.
"""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics
from temporalio import workflow

# No *_created series: they double the exposition and no rule or panel reads them.
disable_created_metrics()

# --- the receiver ----------------------------------------------------------------------------

WEBHOOKS_RECEIVED = Counter("m3bng_webhooks_received", "BNG webhook requests received (POST /webhooks/bng)")
WEBHOOKS_REJECTED = Counter(
    "m3bng_webhooks_rejected",
    "BNG webhook requests refused before routing",
    ["reason"],  # unauthenticated, too_large, content_type, malformed, error
)
BODS_RECEIVED = Counter("m3bng_bods_received", "ION IMS messages received (POST /ims/v3/...)")
BODS_REJECTED = Counter("m3bng_bods_rejected", "ION IMS messages refused before routing", ["reason"])
EVENTS_ROUTED = Counter(
    "m3bng_events_routed",
    "Authenticated events by what routing made of them",
    ["source", "outcome"],  # bng-webhook|ion-bod; started, duplicate, signalled, ignored, dead-letter
)
DEAD_LETTERS = Counter("m3bng_dead_letters", "Events kept on the dead-letter list", ["source", "event_type"])

# Why a request to a receiver path was refused, by the status the receiver answered.
_REJECT_REASONS = {
    400: "malformed",
    401: "unauthenticated",
    403: "unauthenticated",
    413: "too_large",
    415: "content_type",
    422: "malformed",
}
_EVENT_TYPE = re.compile(r"[A-Za-z][A-Za-z0-9_.:-]{0,63}")


def count_received(path: str) -> None:
    if path.startswith("/webhooks/"):
        WEBHOOKS_RECEIVED.inc()
    elif path.startswith("/ims/"):
        BODS_RECEIVED.inc()


def count_rejected(path: str, status: int) -> None:
    """A request to a receiver path answered ``status`` (4xx/5xx) before routing accepted it."""
    reason = _REJECT_REASONS.get(status, "error" if status >= 500 else f"http_{status}")
    if path.startswith("/webhooks/"):
        WEBHOOKS_REJECTED.labels(reason).inc()
    elif path.startswith("/ims/"):
        BODS_REJECTED.labels(reason).inc()


def count_routed(source: str, outcome: str, event_type: str = "") -> None:
    EVENTS_ROUTED.labels(source, outcome).inc()
    if outcome == "dead-letter":
        # A sender can name any type; past the receiver's checks it is authenticated, but keep
        # the label a name all the same.
        kind = event_type if _EVENT_TYPE.fullmatch(event_type or "") else "unparsed"
        DEAD_LETTERS.labels(source, kind).inc()


# The intake inbox (starter/intake.py): acked webhooks waiting for their workflow start.
INTAKE_INBOX_DEPTH = Gauge(
    "m3bng_intake_inbox_depth", "Acknowledged webhooks this receiver holds and has not yet forwarded"
)
INTAKE_COMMIT_BATCH = Histogram(
    "m3bng_intake_commit_batch_size",
    "Webhooks committed to the inbox per transaction (group commit)",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
INTAKE_FORWARD_SECONDS = Histogram(
    "m3bng_intake_forward_seconds",
    "From the inbox commit (the ack) to the workflow start",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
)
INTAKE_FORWARDED = Counter(
    "m3bng_intake_forwarded",
    "Inbox rows forwarded, by outcome",
    ["outcome"],  # started, duplicate, dead-letter; retry: failed, tried again after a pause
)


# --- the worker: M3 and BNG calls ------------------------------------------------------------

# Seconds; M3 MI calls take tens of milliseconds to seconds, a bulk call longer.
_CALL_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

M3_CALLS = Counter(
    "m3bng_m3_calls",
    "M3 MI calls (one per HTTP attempt) by program, transaction and outcome",
    ["program", "transaction", "outcome"],  # ok, mi_error, rate_limited, server_error, network, ...
)
M3_CALL_SECONDS = Histogram(
    "m3bng_m3_call_duration_seconds",
    "M3 MI call latency, one observation per HTTP attempt",
    ["program", "transaction"],
    buckets=_CALL_BUCKETS,
)
M3_ERRORS = Counter(
    "m3bng_m3_errors",
    "M3 calls that did not succeed, by M3 error code (MI answers) or HTTP status / error class",
    ["program", "transaction", "code"],
)
BNG_CALLS = Counter(
    "m3bng_bng_calls",
    "BNG REST calls (one per HTTP attempt) by method, route template and status",
    ["method", "route", "status"],  # status: the HTTP status, or "network"
)
BNG_CALL_SECONDS = Histogram(
    "m3bng_bng_call_duration_seconds",
    "BNG REST call latency, one observation per HTTP attempt",
    ["method", "route"],
    buckets=_CALL_BUCKETS,
)
RATE_LIMITED = Counter("m3bng_rate_limited", "429 answers (quota exhausted)", ["system"])  # m3, bng
RETRY_WAIT_SECONDS = Histogram(
    "m3bng_retry_wait_seconds",
    "Waits before an in-client retry (count = retries, sum = seconds spent waiting)",
    ["system", "reason"],  # reason: rate_limited, server_error, network, ...
    buckets=(0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 60.0),
)

_M3_OUTCOMES = {
    "M3RateLimitedError": "rate_limited",
    "M3AmbiguousWriteError": "outcome_unknown",
    "M3AuthError": "auth",
    "M3ProtocolError": "protocol",
}


def m3_outcome(status: int | None, error: str | None = None) -> str:
    """The ``outcome`` label of one M3 attempt: its HTTP status, or the client's error class."""
    if error:
        if error in _M3_OUTCOMES:
            return _M3_OUTCOMES[error]
        if status is None:
            return "network"
        return "server_error" if status >= 500 else f"http_{status}"
    if status == 200:
        return "ok"
    if status == 400:
        return "mi_error"  # m3api-rest v2 answers an MI NOK with 400
    if status == 429:
        return "rate_limited"
    return "server_error" if (status or 0) >= 500 else f"http_{status}"


def observe_m3_call(
    program: str,
    transaction: str,
    *,
    status: int | None,
    seconds: float,
    error: str | None = None,
    code: str | None = None,
    retry_in: float | None = None,
) -> None:
    """One M3 attempt, from where the client logs it (``m3.call`` / ``m3.call_failed``)."""
    outcome = m3_outcome(status, error)
    M3_CALLS.labels(program, transaction, outcome).inc()
    M3_CALL_SECONDS.labels(program, transaction).observe(seconds)
    if outcome != "ok":
        M3_ERRORS.labels(program, transaction, code or (str(status) if status else outcome)).inc()
    if outcome == "rate_limited":
        RATE_LIMITED.labels("m3").inc()
    if retry_in is not None:
        RETRY_WAIT_SECONDS.labels("m3", outcome).observe(retry_in)


def observe_m3_response(program: str, transaction: str, response: httpx.Response, *, seconds: float) -> None:
    """One M3 attempt that got an answer to parse: 200, or 400 with M3's error (its code)."""
    code = m3_error_code(response) if response.status_code == 400 else None
    observe_m3_call(program, transaction, status=response.status_code, seconds=seconds, code=code)


def m3_error_code(response: httpx.Response) -> str:
    """The MI error code of an m3api-rest v2 error answer (HTTP 400), else ``NOK``."""
    try:
        body = response.json()
    except ValueError:
        return "NOK"
    code = body.get("errorCode") or body.get("@code") if isinstance(body, dict) else None
    if isinstance(code, str) and re.fullmatch(r"[A-Za-z0-9_-]{1,16}", code.strip()):
        return code.strip()
    return "NOK"


# Segments of BNG's API paths that are names, not ids: everything else becomes {id}.
_BNG_STATIC = frozenset(
    {
        "api",
        "v1",
        "orders",
        "payments",
        "refunds",
        "invoice",
        "status",
        "purchase-orders",
        "cancel",
        "receipts",
        "supplier-invoices",
        "journals",
        "customers",
        "products",
        "vendors",
        "inventory",
        "oauth",
        "token",
    }
)


def bng_route(path: str) -> str:
    """``/api/v1/orders/BNG-1/status`` -> ``/api/v1/orders/{id}/status``."""
    segments = path.split("?", 1)[0].strip("/").split("/")
    return "/" + "/".join(s if s in _BNG_STATIC else "{id}" for s in segments)


def observe_bng_call(method: str, path: str, *, status: int | None, seconds: float) -> None:
    route = bng_route(path)
    BNG_CALLS.labels(method, route, str(status) if status else "network").inc()
    BNG_CALL_SECONDS.labels(method, route).observe(seconds)
    if status == 429:
        RATE_LIMITED.labels("bng").inc()


def observe_bng_retry(status: int | None, delay: float) -> None:
    reason = "rate_limited" if status == 429 else ("network" if status is None else "server_error")
    RETRY_WAIT_SECONDS.labels("bng", reason).observe(delay)


# --- the worker: reconciliation ----------------------------------------------------------------

RECONCILE_RUNS = Counter("m3bng_reconcile_runs", "Finished reconciliation runs", ["entity", "status"])
RECONCILE_DIFFERENCES = Gauge(
    "m3bng_reconcile_differences",
    "Drift the last finished reconciliation run of an entity found (differences other than unlinked)",
    ["entity"],
)
RECONCILE_DIFFERENCES_FOUND = Counter(
    "m3bng_reconcile_differences_found", "Differences reconciliation found, by kind", ["entity", "kind"]
)
RECONCILE_LAST_RUN = Gauge(
    "m3bng_reconcile_last_run_timestamp_seconds",
    "When an entity's last reconciliation run finished",
    ["entity"],
)


def record_reconcile_run(entity: str, status: str, difference_kinds: list[str]) -> None:
    RECONCILE_RUNS.labels(entity, status).inc()
    # "unlinked" is equal on both sides, only not linked yet (an initial load): not drift.
    RECONCILE_DIFFERENCES.labels(entity).set(sum(kind != "unlinked" for kind in difference_kinds))
    for kind in difference_kinds:
        RECONCILE_DIFFERENCES_FOUND.labels(entity, kind).inc()
    RECONCILE_LAST_RUN.labels(entity).set_to_current_time()


# --- the worker: fleet gauges (clients.metrics_server reads Temporal's visibility) -------------

PARKED_ITEMS = Gauge(
    "m3bng_parked_items", "Running orders, documents or records waiting in NeedsAttention", ["kind"]
)
OPEN_ITEMS = Gauge("m3bng_open_items", "Running order and document workflows", ["kind"])
OLDEST_PARKED_SECONDS = Gauge(
    "m3bng_oldest_parked_age_seconds", "Seconds since the oldest parked item last moved", ["kind"]
)
OLDEST_STALLED_SECONDS = Gauge(
    "m3bng_oldest_stalled_age_seconds",
    "Seconds since the least recently moved running (not parked) order or document last moved",
    ["kind"],
)
FLEET_SCRAPE_ERRORS = Counter(
    "m3bng_fleet_scrape_errors", "Failed reads of Temporal's visibility for the fleet gauges"
)

# --- workflow metrics (Temporal SDK meter; the exporter adds _total to counters) ---------------

DOCUMENTS_STARTED = "m3bng_documents_started"
DOCUMENTS_STAGE_ENTERED = "m3bng_documents_stage_entered"
DOCUMENTS_COMPLETED = "m3bng_documents_completed"
DOCUMENTS_PARKED = "m3bng_documents_parked"
SYNC_OUTCOMES = "m3bng_sync_outcomes"
RECORDS_PARKED = "m3bng_records_parked"
SYNC_LAG = "m3bng_sync_lag_seconds"

# The stages after which a workflow is done (orders: Paid, Cancelled; documents: FINAL_STAGES).
FINAL_STAGES = frozenset({"Paid", "Closed", "Posted", "Rejected", "Cancelled"})


def document_started() -> None:
    """In a workflow: an order or document workflow began (not on continue-as-new replays)."""
    _count(DOCUMENTS_STARTED, "Order and document workflows started", {})


def stage_entered(stage: str) -> None:
    """In a workflow: the order or document moved to ``stage``."""
    _count(DOCUMENTS_STAGE_ENTERED, "Stage changes of orders and documents", {"stage": stage})
    if stage in FINAL_STAGES:
        _count(DOCUMENTS_COMPLETED, "Orders and documents that reached a final stage", {"stage": stage})


def document_parked(stage: str, kind: str) -> None:
    """In a workflow: parked in NeedsAttention at ``stage`` for an error of class ``kind``."""
    _count(DOCUMENTS_PARKED, "Orders and documents parked", {"stage": stage, "class": kind})


def sync_outcome(entity: str, outcome: str, kind: str | None, lag: timedelta | None = None) -> None:
    """In a workflow: an entity sync round ended; ``kind`` is the parked class, if parked."""
    _count(SYNC_OUTCOMES, "Master-data sync rounds by outcome", {"entity": entity, "outcome": outcome})
    if outcome == "parked":
        _count(RECORDS_PARKED, "Master-data records parked", {"entity": entity, "class": kind or "unknown"})
    if lag is not None:
        workflow.metric_meter().create_histogram_timedelta(
            SYNC_LAG, "From taking up a record's changes to both sides agreeing", "s"
        ).record(lag, {"entity": entity})


def _count(name: str, description: str, labels: dict[str, str]) -> None:
    # The workflow meter adds namespace, task_queue and workflow_type by itself.
    workflow.metric_meter().create_counter(name, description).add(1, labels)
