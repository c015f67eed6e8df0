"""Alembic environment: the URL comes from LocalScribe's settings unless the caller set one."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from server.config import Settings
from server.db.models import Base

config = context.config
# the alembic command line: the environment, read once here (the server always passes its URL)
url = config.get_main_option("sqlalchemy.url") or Settings().sqlalchemy_url


def run() -> None:
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=Base.metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run()
