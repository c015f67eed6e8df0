"""Structured log lines; a job's transcript id appears on every line about it."""

from __future__ import annotations

import logging


class _JobFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        tid = getattr(record, "transcript_id", None)
        record.job = f" transcript_id={tid}" if tid else ""
        return super().format(record)


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(_JobFormatter("%(asctime)s %(levelname)s %(name)s%(job)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
