"""Appointments: match keys of each part of a compound surname.

Revision ID: 0304
Revises: 0204
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0304"
down_revision: str | None = "0303"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("appointments") as batch:
        batch.add_column(sa.Column("part_keys", sa.JSON(), nullable=True))
    # Keys derived before this revision have no parts: a NULL match_tag makes the next
    # pull (or import) derive all of them again under the day's salt.
    op.execute("UPDATE appointments SET match_tag = NULL")


def downgrade() -> None:
    with op.batch_alter_table("appointments") as batch:
        batch.drop_column("part_keys")
