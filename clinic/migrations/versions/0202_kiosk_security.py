"""Kiosk-facing security: match keys at import, hashed follow-up tokens, clock flags, purge.

- appointments: match_key, phone_key, match_tag (argon2id keys derived at import).
- follow_up_tokens: the token column becomes token_hash (SHA-256 hex of the token).
- received_records: clock_skewed (the kiosk's clock was far off when it made the record).
- maintenance_runs: when the daily purge last ran (shared by every server process).

Revision ID: 0202
Revises: 0103
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0202"
down_revision: str | None = "0201"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("appointments") as batch:
        batch.add_column(sa.Column("match_key", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("phone_key", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("match_tag", sa.String(length=80), nullable=True))
    with op.batch_alter_table("received_records") as batch:
        batch.add_column(
            sa.Column("clock_skewed", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("follow_up_tokens") as batch:
        batch.alter_column(
            "token",
            new_column_name="token_hash",
            existing_type=sa.String(length=32),
            type_=sa.String(length=64),
            existing_nullable=False,
        )
    tokens = sa.table("follow_up_tokens", sa.column("token_hash", sa.String()))
    connection = op.get_bind()
    for (token,) in connection.execute(sa.select(tokens.c.token_hash)).all():
        connection.execute(
            tokens.update()
            .where(tokens.c.token_hash == token)
            .values(token_hash=hashlib.sha256(token.encode("utf-8")).hexdigest())
        )
    op.create_table(
        "maintenance_runs",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("last_run_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_maintenance_runs")),
    )


def downgrade() -> None:
    # Hashed tokens cannot be turned back into tokens: links handed out stop working.
    op.drop_table("maintenance_runs")
    op.execute(sa.text("DELETE FROM follow_up_tokens"))
    with op.batch_alter_table("follow_up_tokens") as batch:
        batch.alter_column(
            "token_hash",
            new_column_name="token",
            existing_type=sa.String(length=64),
            type_=sa.String(length=32),
            existing_nullable=False,
        )
    with op.batch_alter_table("received_records") as batch:
        batch.drop_column("clock_skewed")
    with op.batch_alter_table("appointments") as batch:
        batch.drop_column("match_tag")
        batch.drop_column("phone_key")
        batch.drop_column("match_key")
