"""Alert rules' minutes kept in the database; an index for the latest alert of a kind.

`clinic_settings` gets the timed alert rules' minutes as an admin sets them on the
dashboard (NULL: the server's CLINIC_ALERT_..._MINUTES setting), so every server process
and host reads the same values. `alerts` gets an index on (kind, raised_at): the
unhappy-share rule reads its kind's latest alert for every rating that arrives.

Revision ID: 0306
Revises: 0305
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0306"
down_revision: str | None = "0305"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    "alert_question_unanswered_minutes",
    "alert_patient_waiting_minutes",
    "alert_kiosk_silent_minutes",
)


def upgrade() -> None:
    with op.batch_alter_table("clinic_settings", schema=None) as batch_op:
        for column in COLUMNS:
            batch_op.add_column(sa.Column(column, sa.Integer(), nullable=True))
    op.create_index("ix_alerts_kind_raised_at", "alerts", ["kind", "raised_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_alerts_kind_raised_at", table_name="alerts")
    with op.batch_alter_table("clinic_settings", schema=None) as batch_op:
        for column in reversed(COLUMNS):
            batch_op.drop_column(column)
