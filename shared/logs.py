"""Structured (JSON) logs carrying the service name and a correlation id.

The gateway gives each HTTP request a correlation id (or takes the client's ``X-Correlation-Id``);
nameko carries it in the context data of every RPC call and event, so that one request can be
followed through every service it touches.
"""

import contextvars
import json
import logging
import uuid
from datetime import UTC, datetime

from nameko.extensions import DependencyProvider

CORRELATION_KEY = "correlation_id"

_correlation = contextvars.ContextVar("correlation_id", default=None)
_service = contextvars.ContextVar("service", default=None)


def current_correlation_id():
    return _correlation.get()


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, service, logger, message, correlation_id."""

    def format(self, record):
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "service": getattr(record, "service", None) or _service.get(),
            "logger": record.name,
            "message": record.getMessage(),
            "correlation_id": getattr(record, "correlation_id", None) or _correlation.get(),
        }
        for key in ("event", "entity_id", "duration_ms"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(level="INFO"):
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("kombu", "amqp", "nameko", "urllib3", "fontTools", "weasyprint"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


class Correlation(DependencyProvider):
    """Gives every worker a correlation id (kept from the caller, else new) and tags its logs.

    Injected as a handle: ``self.correlation.id``; the gateway may ``adopt()`` a client's id.
    """

    def worker_setup(self, worker_ctx):
        correlation_id = worker_ctx.data.get(CORRELATION_KEY) or uuid.uuid4().hex
        worker_ctx.data[CORRELATION_KEY] = correlation_id
        _correlation.set(correlation_id)
        _service.set(worker_ctx.service_name)

    def get_dependency(self, worker_ctx):
        return CorrelationHandle(worker_ctx)


class CorrelationHandle:
    def __init__(self, worker_ctx):
        self._worker_ctx = worker_ctx

    @property
    def id(self):
        return self._worker_ctx.data.get(CORRELATION_KEY)

    def adopt(self, correlation_id):
        """Use the caller's id (e.g. an ``X-Correlation-Id`` header) if it looks like one."""
        if correlation_id and len(correlation_id) <= 64 and correlation_id.isprintable():
            self._worker_ctx.data[CORRELATION_KEY] = correlation_id
            _correlation.set(correlation_id)
