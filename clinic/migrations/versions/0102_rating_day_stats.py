"""Add per-day feedback sums (rating_day_stats) so year-long charts stay fast.

Revision ID: 0102
Revises: 0101
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0102"
down_revision: str | None = "0101"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DIMS = ("ease_of_contact", "waiting_time", "politeness", "kept_informed", "overall")


def upgrade() -> None:
    columns: list[sa.schema.SchemaItem] = [
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kiosk_id", sa.Uuid(), nullable=True),
        sa.Column("face", sa.SmallInteger(), nullable=False),
        sa.Column("responses", sa.Integer(), nullable=False),
        sa.Column("promoters", sa.Integer(), nullable=False),
        sa.Column("detractors", sa.Integer(), nullable=False),
        sa.Column("recommend_n", sa.Integer(), nullable=False),
    ]
    for dim in DIMS:
        columns.append(sa.Column(f"{dim}_sum", sa.Integer(), nullable=False))
        columns.append(sa.Column(f"{dim}_n", sa.Integer(), nullable=False))
    op.create_table(
        "rating_day_stats",
        *columns,
        sa.ForeignKeyConstraint(
            ["kiosk_id"], ["kiosks.id"], name="fk_rating_day_stats_kiosk_id_kiosks"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_rating_day_stats"),
    )
    op.create_index("ix_rating_day_stats_day", "rating_day_stats", ["day"], unique=False)
    op.create_table(
        "rating_day_summed",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("summed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("day", name="pk_rating_day_summed"),
    )
    op.create_table(
        "rating_rollup_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("watermark", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_rating_rollup_state"),
    )


def downgrade() -> None:
    op.drop_table("rating_rollup_state")
    op.drop_table("rating_day_summed")
    op.drop_index("ix_rating_day_stats_day", table_name="rating_day_stats")
    op.drop_table("rating_day_stats")
