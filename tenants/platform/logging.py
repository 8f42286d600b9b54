"""Structured logs with correlation ids.

``bind_log_context(session_id=..., tenant_id=...)`` puts ids into a context variable that
follows the current request, Celery task or worker job (asyncio tasks inherit it), and every
log record carries them. ``LOG_FORMAT=json`` writes one JSON object per line.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

CORRELATION_KEYS = (
    "request_id",
    "task_id",
    "session_id",
    "tenant_id",
    "user_id",
    "agent_id",
    "version",
)

_log_context: ContextVar[Mapping[str, Any]] = ContextVar(
    "log_context", default=MappingProxyType({})
)


def current_log_context() -> dict[str, Any]:
    return dict(_log_context.get())


@contextlib.contextmanager
def bind_log_context(**values: Any) -> Iterator[None]:
    """Add correlation ids for the duration of the block (None values are ignored)."""
    merged = {**_log_context.get(), **{k: v for k, v in values.items() if v is not None}}
    token = _log_context.set(merged)
    try:
        yield
    finally:
        _log_context.reset(token)


def set_log_context(**values: Any) -> None:
    """Add correlation ids until the current context ends (a job or a task)."""
    _log_context.set({**_log_context.get(), **{k: v for k, v in values.items() if v is not None}})


def reset_log_context(**values: Any) -> None:
    """Start a fresh context (a new task or job) holding only ``values``."""
    _log_context.set({k: v for k, v in values.items() if v is not None})


_base_record_factory = logging.getLogRecordFactory()


def _record_with_context(*args: Any, **kwargs: Any) -> logging.LogRecord:
    """Every record gets the bound ids when it is created, whichever handler it reaches.

    They live under one attribute, ``correlation``, so they never clash with a library's
    own ``extra`` keys (livekit-agents logs ``extra={"version": ...}``, for one).
    """
    record = _base_record_factory(*args, **kwargs)
    record.correlation = dict(_log_context.get())
    return record


def install_record_factory() -> None:
    if logging.getLogRecordFactory() is not _record_with_context:
        logging.setLogRecordFactory(_record_with_context)


class ContextFilter(logging.Filter):
    """Renders the record's correlation ids as ``key=value`` text for the plain format."""

    def filter(self, record: logging.LogRecord) -> bool:
        correlation = getattr(record, "correlation", {})
        record.context = " ".join(
            f"{key}={correlation[key]}" for key in CORRELATION_KEYS if key in correlation
        )
        return True


# Attributes every LogRecord has: anything else on a record came from ``extra=``.
_STANDARD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "correlation",
    "context",
    "taskName",
}


def record_extra(record: logging.LogRecord) -> dict[str, Any]:
    """The ``extra={...}`` fields of a record (livekit-agents logs its details this way)."""
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD_ATTRIBUTES}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the correlation ids and, under
    ``extra``, the record's structured fields."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        correlation = getattr(record, "correlation", {})
        for key in CORRELATION_KEYS:
            if correlation.get(key) is not None:
                payload[key] = str(correlation[key])
        extra = record_extra(record)
        if extra:
            payload["extra"] = extra
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False, default=str)


def logging_config(*, level: str, fmt: str) -> dict[str, Any]:
    """The LOGGING dict for settings: plain or JSON lines on stderr, ids on every record."""
    install_record_factory()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "tenants.platform.logging.ContextFilter"}},
        "formatters": {
            "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s %(context)s"},
            "json": {"()": "tenants.platform.logging.JsonFormatter"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "json" if fmt == "json" else "plain",
                "filters": ["context"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {"django.db.backends": {"level": "WARNING"}},
    }
