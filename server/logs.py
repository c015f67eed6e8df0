"""Structured log lines; a job's transcript id appears on every line about it, and no line carries a secret.

Secrets reach log lines through URLs: a pre-signed `audio_url` (`?X-Amz-Signature=…`), a webhook URL with a
token in its query, `?token=` on a WebSocket URL in uvicorn's access line, httpx's own "HTTP Request: GET …"
lines, `user:password@` in any URL. `RedactSecrets` sits on the one handler every logger's records reach
(ours, uvicorn's, httpx's), so no caller has to remember (docs/security.md "Logs").
"""

from __future__ import annotations

import logging
import re

REDACTED = "[redacted]"
# Query parameters whose values are never secret and help when reading a log; every other value is hidden.
PLAIN_QUERY_PARAMS = frozenset(
    {
        "sample_rate",
        "encoding",
        "speech_model",
        "limit",
        "status",
        "created_on",
        "before_id",
        "after_id",
        "throttled_only",
        "expires_in_seconds",
        "max_session_duration_seconds",
        "chars_per_caption",
        "disable_partial_transcripts",
        "enable_extra_session_information",
        "format_turns",
    }
)
_QUERY_VALUE = re.compile(r"(?P<sep>[?&;])(?P<name>[^=&?#\s\"'<>]+)=(?P<value>[^&#\s\"'<>]*)")
_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s\"'<>]+@")
_HEADER_SECRET = re.compile(
    r"(?i)(?P<name>authorization|x-api-key|api[_-]?key|token)(?P<sep>[\"']?\s*[:=]\s*[\"']?)"
    r"(?P<value>(?:bearer\s+)?[^\s\"',;&]+)"
)


def redact(text: str) -> str:
    """The text with every query value (but the plain ones), URL credentials and key-like fields hidden."""

    def query(m: re.Match[str]) -> str:
        if m["name"].lower() in PLAIN_QUERY_PARAMS:
            return m[0]
        return f"{m['sep']}{m['name']}={REDACTED}"

    # Each pattern runs only where its anchor occurs: most lines (an access line per request) have none,
    # and three regex passes on each were a visible share of a request's CPU (issue 19).
    if "@" in text:
        text = _USERINFO.sub(lambda m: f"{m['scheme']}{REDACTED}@", text)
    if "?" in text or "&" in text or ";" in text:
        text = _QUERY_VALUE.sub(query, text)
    lower = text.lower()
    if "authorization" not in lower and "api" not in lower and "token" not in lower:
        return text
    return _HEADER_SECRET.sub(
        lambda m: m[0] if m["value"] == REDACTED else f"{m['name']}{m['sep']}{REDACTED}", text
    )


class RedactSecrets(logging.Filter):
    """Rewrites each record's message (and exception text) before any formatter sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a caller's bad format string: let the formatter report it as usual
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


class _JobFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        tid = getattr(record, "transcript_id", None)
        record.job = f" transcript_id={tid}" if tid else ""
        return super().format(record)


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(_JobFormatter("%(asctime)s %(levelname)s %(name)s%(job)s %(message)s"))
    handler.addFilter(RedactSecrets())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
