"""Keep each kiosk's crash count, last crash time and clock health from its heartbeat.

The kiosk recovers from unexpected exceptions to its welcome screen and counts them; staff
see the count and the last crash on the kiosks page, next to a wrong-clock warning.

Revision ID: 0203
Revises: 0103
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0203"
down_revision: str | None = "0202"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("kiosks") as batch:
        batch.add_column(sa.Column("crash_count", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("last_crash_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("clock_skew_seconds", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("clock_problem", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("kiosks") as batch:
        batch.drop_column("clock_problem")
        batch.drop_column("clock_skew_seconds")
        batch.drop_column("last_crash_at")
        batch.drop_column("crash_count")
