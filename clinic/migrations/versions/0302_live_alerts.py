"""Live dashboard and alerts: alert de-duplication and e-mail state, shared rate limits.

Revision ID: 0302
Revises: 0204
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0302"
down_revision: str | None = "0301"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dedupe_key", sa.String(120), nullable=True))
        batch_op.add_column(
            sa.Column("email_state", sa.String(16), nullable=False, server_default="off")
        )
        batch_op.add_column(
            sa.Column("email_attempts", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("email_next_attempt_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("emailed_at", sa.DateTime(), nullable=True))
        batch_op.create_unique_constraint("uq_alerts_dedupe_key", ["dedupe_key"])
        batch_op.create_index("ix_alerts_email", ["email_state"], unique=False)
    op.create_table(
        "rate_limits",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("tat", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_rate_limits"),
    )


def downgrade() -> None:
    op.drop_table("rate_limits")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_alerts_email")
        batch_op.drop_constraint("uq_alerts_dedupe_key", type_="unique")
        batch_op.drop_column("emailed_at")
        batch_op.drop_column("email_next_attempt_at")
        batch_op.drop_column("email_attempts")
        batch_op.drop_column("email_state")
        batch_op.drop_column("dedupe_key")
