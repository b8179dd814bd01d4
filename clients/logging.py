"""structlog set-up shared by every process: JSON lines, secrets and personal data masked.

Everything a process logs comes out the same way, one JSON object per line on stdout:

- m3bng's own lines (``structlog.get_logger``), with the context variables bound around the work
  (an activity binds its workflow id, activity type, attempt and business keys: see
  ``activities/heartbeat.py``);
- the standard library's loggers (the Temporal SDK's ``temporalio.*``, uvicorn's, SQLAlchemy's),
  through structlog's ``ProcessorFormatter``: the SDK's activity and workflow details become
  fields (``workflow_id``, ``activity_type``...), and an exception is the ``exception`` field of
  its line, never a raw traceback between JSON lines.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import IO, Any

import structlog
import temporalio.activity
import temporalio.workflow
from temporalio.runtime import LogForwardingConfig, LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter

# Keys whose values never reach a log line, whatever the caller passes.
_SECRET_KEYS = re.compile(r"(secret|password|token|authorization|api[_-]?key|sask|saak|cs$)", re.I)
# Personal data: kept in the record for support, but masked.
_PERSONAL_KEYS = re.compile(r"(email|mail|phone|phno|first_?name|last_?name|address|cua\d)", re.I)

# The Temporal SDK's details of the running activity or workflow (``extra`` of its loggers), and
# which of them a line keeps, under these names.
_TEMPORAL_EXTRAS = ("temporal_activity", "temporal_workflow")
_TEMPORAL_FIELDS = {
    "workflow_id": "workflow_id",
    "workflow_type": "workflow_type",
    "run_id": "run_id",
    "workflow_run_id": "run_id",
    "activity_type": "activity_type",
    "activity_id": "activity_id",
    "attempt": "attempt",
    "task_queue": "task_queue",
    "update_id": "update_id",
    "update_name": "update_name",
}

# Libraries whose INFO lines would repeat m3bng's own, unmasked.
QUIET_LIBRARIES = ("httpx", "httpcore")

# Handed to uvicorn as its logging configuration: its loggers propagate to the root handler below
# (uvicorn's own default configuration would give them plain-text handlers of their own).
UVICORN_LOG_CONFIG: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "loggers": {
        "uvicorn": {"handlers": [], "propagate": True},
        "uvicorn.error": {"handlers": [], "propagate": True},
        "uvicorn.access": {"handlers": [], "propagate": True},
    },
}


def _mask(value: Any) -> str:
    text = str(value)
    return text[:1] + "***" if text else text


def redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event):
        if _SECRET_KEYS.search(key):
            event[key] = "[redacted]"
        elif _PERSONAL_KEYS.search(key):
            event[key] = _mask(event[key])
    return event


def temporal_fields(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """The SDK's ``temporal_activity`` / ``temporal_workflow`` extras as plain fields of the line."""
    for extra in _TEMPORAL_EXTRAS:
        details = event.pop(extra, None)
        if isinstance(details, Mapping):
            for name, field in _TEMPORAL_FIELDS.items():
                if name in details and details[name] is not None:
                    event.setdefault(field, details[name])
    # Forwarded from the SDK's core (Rust): where it comes from; the rest is in the message.
    core = event.pop("temporal_log", None)
    if core is not None and getattr(core, "target", None):
        event.setdefault("core_target", core.target)
    # The SDK marks some lines for its own use; nothing an operator reads.
    for key in [key for key in event if key.startswith("__temporal")]:
        del event[key]
    return event


def _shared_processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def core_logging_config(level: str = "WARN") -> LoggingConfig:
    """The Temporal SDK core's own log lines (connection trouble, worker shutdown...) forwarded
    to the ``temporalio.core`` logger, so they are JSON lines like the rest. A process that makes
    its own ``Runtime`` (for metrics, say) passes this as its ``TelemetryConfig(logging=...)``."""
    return LoggingConfig(
        filter=TelemetryFilter(core_level=level, other_level="ERROR"),
        forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core")),
    )


def stdlib_handler(stream: IO[str], *, json: bool = True) -> logging.Handler:
    """A handler that writes standard-library log records as m3bng's lines: context variables,
    level, time, logger name, the record's ``extra`` (the SDK's activity or workflow details as
    plain fields), masked, and an exception as the ``exception`` field of the one line."""
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            *_shared_processors(),
            structlog.stdlib.add_logger_name,
            structlog.stdlib.ExtraAdder(),
            temporal_fields,
            redact,
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    return handler


def configure_logging(level: str = "INFO", *, json: bool = True, temporal_core: bool = True) -> None:
    """Set up structlog and the standard library's logging for this process.

    ``temporal_core``: also make the default Temporal runtime forward the SDK core's logs (only
    clients and workers created after this call use it).
    """
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    numeric_level = logging.getLevelName(level.upper())
    structlog.configure(
        processors=[
            *_shared_processors(),
            redact,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        cache_logger_on_first_use=True,
    )
    # The standard library's loggers: the same line, through the same renderer.
    handler = stdlib_handler(sys.stdout, json=json)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_m3bng", False)]:
        root.removeHandler(old)
    handler._m3bng = True  # type: ignore[attr-defined]  # replaced, not doubled, when called again
    root.addHandler(handler)
    root.setLevel(numeric_level)
    # httpx logs every request at INFO with its full URL, and an M3 call's fields travel in the
    # query string (names, addresses): m3bng's own m3.call / bng lines say what is needed, masked.
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(max(numeric_level, logging.WARNING))
    # The SDK writes the activity's or workflow's details into the message too, unless told not to:
    # they are fields of the line already.
    temporalio.activity.logger.activity_info_on_message = not json
    temporalio.workflow.logger.workflow_info_on_message = not json
    _route_uvicorn_to_root()
    if json and temporal_core:
        _forward_core_logs()


_core_runtime: Runtime | None = None


def _forward_core_logs() -> None:
    """Once per process: a default Temporal runtime whose core logs go to ``temporalio.core``."""
    global _core_runtime
    if _core_runtime is None:
        _core_runtime = Runtime(telemetry=TelemetryConfig(logging=core_logging_config()))
        Runtime.set_default(_core_runtime, error_if_already_set=False)


def _route_uvicorn_to_root() -> None:
    """uvicorn's loggers propagate to the root handler, whether uvicorn is started with
    ``log_config=UVICORN_LOG_CONFIG`` or with its default (which this replaces in place)."""
    for name in UVICORN_LOG_CONFIG["loggers"]:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    try:
        from uvicorn.config import LOGGING_CONFIG
    except ImportError:  # pragma: no cover - uvicorn is a dependency of the receiver only
        return
    LOGGING_CONFIG.clear()
    LOGGING_CONFIG.update(UVICORN_LOG_CONFIG)
