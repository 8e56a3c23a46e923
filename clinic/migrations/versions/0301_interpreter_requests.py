"""Interpreter requests on arrivals: the language wanted and when it was asked for.

Revision ID: 0301
Revises: 0204
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0301"
down_revision: str | None = "0204"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("arrivals") as batch:
        batch.add_column(sa.Column("interpreter_language", sa.String(8), nullable=True))
        batch.add_column(sa.Column("interpreter_requested_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("arrivals") as batch:
        batch.drop_column("interpreter_requested_at")
        batch.drop_column("interpreter_language")
