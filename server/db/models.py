"""SQLAlchemy tables: accounts, API keys, uploads, transcripts, webhook deliveries, fault rules.

Jobs live here, not in process memory, so several API and worker processes share one queue.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from server.clock import utcnow


def new_id() -> str:
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    pass


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    tier: Mapped[str] = mapped_column(String(10))  # free | paid
    async_limit: Mapped[int] = mapped_column(Integer)
    realtime_limit: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # round-robin fairness: the account served longest ago is served next
    last_claimed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    # sha256 hex; the key itself is never stored
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(8))  # shown in listings so users can tell keys apart
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class Upload(Base):
    __tablename__ = "uploads"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    path: Mapped[str] = mapped_column(Text)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class TranscriptStatus(StrEnum):
    """A transcript's life: queued → processing → completed or error (a str: stored and sent as is)."""

    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    ERROR = "error"


class Transcript(Base):
    __tablename__ = "transcripts"
    __table_args__ = (
        Index("ix_transcripts_queue", "status", "account_id", "created_at"),
        Index("ix_transcripts_account_created", "account_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(12), default=TranscriptStatus.QUEUED)
    throttled: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    audio_url: Mapped[str] = mapped_column(Text)
    upload_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    params: Mapped[dict] = mapped_column(JSON)  # validated request, defaults applied
    result: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # text, words, … as the API shows them
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    audio_duration: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # lease: the worker holding a processing job renews it; an expired lease returns the job to the queue
    lease_owner: Mapped[str | None] = mapped_column(String(80), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    progress: Mapped[float | None] = mapped_column(Float, nullable=True)
    webhook_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # injected faults (docs/faults.md), stamped at creation: never shown to clients
    fault: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # {"error"?, "delay_s"?, "hold_s"?}
    hold_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)  # not claimed before


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhooks_due", "state", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    transcript_id: Mapped[str] = mapped_column(String(36), index=True)
    url: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict] = mapped_column(JSON)
    header_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    header_value: Mapped[str | None] = mapped_column(Text, nullable=True)
    state: Mapped[str] = mapped_column(String(12), default="pending")  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(80), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class FaultRule(Base):
    """An injected fault (docs/faults.md). In the database so every API and worker process sees it."""

    __tablename__ = "fault_rules"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    source: Mapped[str] = mapped_column(String(10), default="api")  # api | file (LOCALSCRIBE_FAULTS_FILE)
    kind: Mapped[str] = mapped_column(String(10))  # error | hold | delay | http | close
    match: Mapped[dict] = mapped_column(JSON)
    effect: Mapped[dict] = mapped_column(JSON)
    times: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None: unlimited
    hits: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class StreamToken(Base):
    """A temporary streaming token (docs/compatibility.md#tokens): opaque, single use, tied to the issuing
    account."""

    __tablename__ = "stream_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256; the token itself is not kept
    # the key that minted it: revoking that key revokes the token (NULL: minted before 0004, never honoured)
    api_key_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime)  # the window to *start* a session
    max_session_s: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class StreamSession(Base):
    """One live WebSocket session: a row holds one of the account's real-time slots while it lives.

    A process that dies stops renewing `heartbeat_at`; its rows stop counting after a short grace.
    """

    __tablename__ = "stream_sessions"
    __table_args__ = (Index("ix_stream_sessions_live", "account_id", "ended_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    protocol: Mapped[str] = mapped_column(String(4))  # v2 | v3
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    audio_seconds: Mapped[float] = mapped_column(Float, default=0.0)
