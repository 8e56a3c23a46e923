"""Index ratings that carry a comment, newest first (the feedback page's "with comment").

Staff mostly read the comments; without this index the "with comment" filter combined with
rare scores scans every rating of the range (hundreds of ms on a million ratings).

Revision ID: 0103
Revises: 0102
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0103"
down_revision: str | None = "0102"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHERE = sa.text("comment IS NOT NULL")


def upgrade() -> None:
    op.create_index(
        "ix_ratings_commented_rated_at",
        "ratings",
        ["rated_at", "id"],
        unique=False,
        sqlite_where=WHERE,
        postgresql_where=WHERE,
    )


def downgrade() -> None:
    op.drop_index("ix_ratings_commented_rated_at", table_name="ratings")
