"""Structured (one JSON object per line) logging with the current request id and trace id."""

from __future__ import annotations

import json
import logging
import sys
import time

from opentelemetry import trace

from stackmesh_common.call_context import request_id


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if rid := request_id.get():
            entry["request_id"] = rid
        if (span := trace.get_current_span().get_span_context()).is_valid:
            entry["trace_id"] = f"{span.trace_id:032x}"  # finds the request in `stackmesh traces`
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def setup_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("stackmesh").info("logging configured", extra={"fields": {"service": service}})
