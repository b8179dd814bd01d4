"""structlog set-up shared by every process: JSON lines, secrets and personal data masked."""

from __future__ import annotations

import logging
import re
from collections.abc import MutableMapping
from typing import Any

import structlog

# Keys whose values never reach a log line, whatever the caller passes.
_SECRET_KEYS = re.compile(r"(secret|password|token|authorization|api[_-]?key|sask|saak|cs$)", re.I)
# Personal data: kept in the record for support, but masked.
_PERSONAL_KEYS = re.compile(r"(email|mail|phone|phno|first_?name|last_?name|address|cua\d)", re.I)


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


def configure_logging(level: str = "INFO", *, json: bool = True) -> None:
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        cache_logger_on_first_use=True,
    )
