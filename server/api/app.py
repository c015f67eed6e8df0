"""The FastAPI application: routers, error handlers, and the start-up sequence."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from server.api import db as api_db
from server.api import error_handlers
from server.api.faults import FaultInjection
from server.api.routes import admin, emulator, health, playground, realtime, sync, transcripts, uploads
from server.api.transcript_create import TranscriptCreate
from server.api.transcript_poll import TranscriptPoll
from server.config import Settings, get_settings
from server.data_dir import secure_data_dir
from server.db.migrate import upgrade
from server.db.session import bind, session_scope, startup_lock
from server.emulator.faults_file import load_faults_file
from server.emulator.journal import Journal, JournalMiddleware
from server.jobs.sweeper import sweep
from server.node import Node
from server.services.accounts import ensure_bootstrap_accounts

log = logging.getLogger("localscribe")


def prepare_database(settings: Settings) -> None:
    """Migrations, then the accounts that must exist; a new development key is printed once.

    Processes that start together (an API and its workers) take turns, so only one migrates and only one
    creates the bootstrap account.
    """
    bind(settings)  # this process's sessions use these settings' database
    secure_data_dir(settings)
    with startup_lock(settings):
        upgrade(settings.sqlalchemy_url)
        with session_scope(write_lock=True) as db:
            key = ensure_bootstrap_accounts(db, settings)
            if settings.faults_file:  # docs/faults.md: idempotent, so every process may load it
                load_faults_file(db, settings.faults_file)
    sweep(settings)  # what a killed process left behind (docs/security.md "Files")
    if key:
        log.warning("created a Paid development account; its API key (shown once): %s", key)


def create_app(settings: Settings | None = None, *, workers: bool = True) -> FastAPI:
    """The app and its node, built from `settings` (the environment's only when none are given): routes,
    workers, database sessions and streams all use these."""
    settings = settings or get_settings()
    bind(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        prepare_database(settings)
        api_db.install(app.state, settings.db_pool_size)
        app.state.node.start()
        yield
        app.state.node.stop()

    app = FastAPI(
        title="LocalScribe",
        version="0.1.0",
        lifespan=lifespan,
        description="A self-hosted server that speaks the AssemblyAI speech-to-text API.",
    )
    app.state.settings = settings
    app.state.node = Node(settings, workers=workers)
    error_handlers.install(app)
    app.include_router(uploads.router)
    app.include_router(transcripts.router)
    app.include_router(realtime.router)
    app.include_router(sync.router)
    app.include_router(health.router)
    app.include_router(admin.router)
    app.include_router(emulator.router)
    app.state.journal = Journal(settings.journal_max_entries)
    # innermost: the fault injection and the journal see these fast paths' requests first
    app.add_middleware(TranscriptCreate)
    app.add_middleware(TranscriptPoll)
    app.add_middleware(FaultInjection)
    # the journal is read through /admin: without an admin token, no body is hashed or copied for it;
    # outermost, so requests that an injected fault answers are journalled too
    if settings.admin_token:
        app.add_middleware(JournalMiddleware, journal=app.state.journal)
    if settings.playground:
        playground.install(app)
    return app
