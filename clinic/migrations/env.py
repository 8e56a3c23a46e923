"""Alembic environment: the database URL comes from the app's settings (CLINIC_DATABASE_URL)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import pool

# The dashboard and follow-up packages declare their own tables on Base; importing them
# makes the metadata complete for autogenerate and `alembic check`.
import clinic.dashboard  # noqa: F401
import clinic.followup  # noqa: F401
from clinic.config import Settings
from clinic.db import make_engine
from clinic.models import Base

config = context.config
target_metadata = Base.metadata


def _database_url() -> str:
    url = config.attributes.get("database_url")
    return str(url) if url else Settings.from_env().database_url


def run_migrations_offline() -> None:
    """Emit SQL to stdout instead of running it."""
    context.configure(
        url=_database_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run migrations against the database."""
    engine = make_engine(_database_url(), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=connection.dialect.name == "sqlite",
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
