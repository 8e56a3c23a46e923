"""The wait estimates' score, kept by the periodic job instead of computed in a page view.

`estimate_quality` holds one row: how many recently called patients were scored, the median
absolute error of their estimates and the share who waited past the range's top. The alert
job (clinic/alerting.py) rewrites it; the arrivals page reads it.

Revision ID: 0307
Revises: 0306
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0307"
down_revision: str | None = "0306"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "estimate_quality",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(), nullable=False),
        sa.Column("scored", sa.Integer(), nullable=False),
        sa.Column("median_abs_error_minutes", sa.Double(), nullable=True),
        sa.Column("over_top_share", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_estimate_quality")),
    )


def downgrade() -> None:
    op.drop_table("estimate_quality")
