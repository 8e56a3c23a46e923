"""Queue operations: call to a room, recalls, waiting-room displays and their pairing codes.

Revision ID: 0303
Revises: 0204
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0303"
down_revision: str | None = "0302"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("arrivals") as batch:
        batch.add_column(sa.Column("room", sa.String(40), nullable=True))
        batch.add_column(sa.Column("clinician", sa.String(80), nullable=True))
        batch.add_column(sa.Column("call_count", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("last_called_at", sa.DateTime(), nullable=True))
    op.create_index("ix_arrivals_last_called_at", "arrivals", ["last_called_at"])
    op.create_table(
        "waiting_room_displays",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_waiting_room_displays"),
        sa.UniqueConstraint("token_hash", name="uq_waiting_room_displays_token_hash"),
    )
    op.create_table(
        "display_pairing_codes",
        sa.Column("id", sa.Integer(), nullable=False, autoincrement=True),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.Column("display_id", sa.Uuid(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["display_id"],
            ["waiting_room_displays.id"],
            name="fk_display_pairing_codes_display_id_waiting_room_displays",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["staff_users.id"],
            name="fk_display_pairing_codes_created_by_id_staff_users",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_display_pairing_codes"),
        sa.UniqueConstraint("code_hash", name="uq_display_pairing_codes_code_hash"),
    )


def downgrade() -> None:
    op.drop_table("display_pairing_codes")
    op.drop_table("waiting_room_displays")
    op.drop_index("ix_arrivals_last_called_at", table_name="arrivals")
    with op.batch_alter_table("arrivals") as batch:
        batch.drop_column("last_called_at")
        batch.drop_column("call_count")
        batch.drop_column("clinician")
        batch.drop_column("room")
