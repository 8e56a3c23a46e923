"""Add follow_up_responses: the longer survey and call-back requests from patients' phones.

Revision ID: 0101
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0101"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "follow_up_responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rating_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["rating_id"],
            ["ratings.id"],
            name="fk_follow_up_responses_rating_id_ratings",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_follow_up_responses"),
        sa.UniqueConstraint("rating_id", "kind", name="uq_follow_up_responses_rating_kind"),
    )
    op.create_index(
        "ix_follow_up_responses_created_at", "follow_up_responses", ["created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_follow_up_responses_created_at", table_name="follow_up_responses")
    op.drop_table("follow_up_responses")
