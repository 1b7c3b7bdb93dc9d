"""JSON-lines logging for the dashboard: one object per line on stdout and in a file, for Promtail.

Fields (``docs/dashboard.md`` lists them for the Promtail pipeline):
``time`` (ISO 8601 UTC), ``level``, ``logger``, ``event`` (``request`` | ``login`` | ``logout`` |
``password_change`` | ``admin_created`` | ``rate_limited`` | ``csrf_rejected`` | ``startup``), ``user``
(``null`` when anonymous), ``method``, ``path``, ``status``, ``latency_ms``, ``remote_addr``, ``outcome``
(auth events: ``success`` | ``failure`` | ``locked`` | ``refused``), ``detail``.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

LOGGER_NAME = "shoplens.dashboard"
FIELDS = (
    "event",
    "user",
    "method",
    "path",
    "status",
    "latency_ms",
    "remote_addr",
    "outcome",
    "detail",
)


class JsonLineFormatter(logging.Formatter):
    """Formats a record as one JSON object; the ``FIELDS`` given in ``extra=`` become keys."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        for name in FIELDS:
            out[name] = getattr(record, name, None)
        if out["event"] is None:
            out["event"] = "message"
            out["detail"] = record.getMessage()
        return json.dumps(out, separators=(",", ":"), default=str)


def configure(log_file: Path | None, *, stream: Any = None) -> logging.Logger:
    """The dashboard logger writing JSON lines to ``stream`` (stdout) and to ``log_file``.

    Handlers are replaced, so calling this again (a new app in the same process) does not duplicate
    lines.
    """
    logger = logging.getLogger(LOGGER_NAME)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    formatter = JsonLineFormatter()
    console = logging.StreamHandler(stream if stream is not None else sys.stdout)
    console.setFormatter(formatter)
    logger.addHandler(console)
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.FileHandler(log_file, encoding="utf-8")
        file_handler.setFormatter(formatter)
        logger.addHandler(file_handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


def event(logger: logging.Logger, name: str, *, level: int = logging.INFO, **fields: Any) -> None:
    """Log one structured event (``fields`` are keys of ``FIELDS``)."""
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise ValueError(f"unknown log fields {sorted(unknown)}; allowed: {FIELDS}")
    logger.log(level, name, extra={"event": name, **fields})
