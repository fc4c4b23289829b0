"""Structured (JSON) logs carrying the service name and a correlation id.

The gateway gives each HTTP request a correlation id (or takes the client's ``X-Correlation-Id``);
nameko carries it in the context data of every RPC call and event, so that one request can be
followed through every service it touches.
"""

import contextvars
import json
import logging
import re
import uuid
from datetime import UTC, datetime

from nameko.extensions import DependencyProvider

CORRELATION_KEY = "correlation_id"

_correlation = contextvars.ContextVar("correlation_id", default=None)
_service = contextvars.ContextVar("service", default=None)


def current_correlation_id():
    return _correlation.get()


# An IBAN as people and programs write it (country, check digits, 11 to 30 more, spaced or not).
_IBAN = re.compile(r"\b([A-Z]{2}[0-9]{2})((?: ?[A-Z0-9]){7,26})((?: ?[A-Z0-9]){4})\b")


def mask_ibans(text):
    """``FR76 3000 6000 0112 3456 7890 189`` -> ``FR76…0189``: logs never carry an account."""
    return _IBAN.sub(lambda m: f"{m.group(1)}…{m.group(3).replace(' ', '')}", text)


class ExpectedRefusals(logging.Filter):
    """nameko logs an error a worker was told to expect (an ``AppError``: a refused coupon, a
    401) as a WARNING with its whole traceback, so junk traffic floods the logs. Such a refusal
    is an answer, not an incident: one INFO line, no traceback."""

    PREFIX = "(expected) error handling worker"

    def filter(self, record):
        if isinstance(record.msg, str) and record.msg.startswith(self.PREFIX):
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.exc_info = record.exc_text = None
            return logging.getLogger().isEnabledFor(logging.INFO)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, service, logger, message, correlation_id; IBANs
    masked wherever they appear."""

    def format(self, record):
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "service": getattr(record, "service", None) or _service.get(),
            "logger": record.name,
            "message": mask_ibans(record.getMessage()),
            "correlation_id": getattr(record, "correlation_id", None) or _correlation.get(),
        }
        for key in ("event", "entity_id", "duration_ms"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exception"] = mask_ibans(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(level="INFO"):
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("kombu", "amqp", "nameko", "urllib3", "fontTools", "weasyprint"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    containers = logging.getLogger("nameko.containers")
    if not any(isinstance(f, ExpectedRefusals) for f in containers.filters):
        containers.addFilter(ExpectedRefusals())


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
