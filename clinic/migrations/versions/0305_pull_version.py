"""Pull version: a counter every change to what a kiosk pulls moves on.

`pull_version` (one row, id 1) is incremented by triggers on the tables the kiosk pull is
built from (appointments, arrivals, faq_entries, clinic_settings), whoever writes them: the
app, an import, the EHR link, the retention purge, or SQL by hand. A server process keeps
its last pull (and ETag) with the version it was built at, so an unchanged pull is answered
after one indexed read (clinic.kiosks.PullCache).

On PostgreSQL the triggers are deferred constraint triggers: the counter row is updated at
commit, after every other lock the transaction takes, so writers never deadlock on it and
hold it only while committing.

A later migration that makes Alembic recreate one of these tables on SQLite (a
`batch_alter_table` that cannot use ALTER TABLE, e.g. dropping or retyping a column) loses
its triggers with the old table and must create them again; the tests in
tests/clinic/test_server_kiosk_cost.py that write each table by hand fail otherwise.

Revision ID: 0305
Revises: 0304
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0305"
down_revision: str | None = "0304"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("appointments", "arrivals", "faq_entries", "clinic_settings")
_BUMP = "UPDATE pull_version SET n = n + 1 WHERE id = 1"


def upgrade() -> None:
    op.create_table(
        "pull_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_pull_version"),
    )
    op.execute("INSERT INTO pull_version (id, n) VALUES (1, 0)")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION bump_pull_version() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {_BUMP}; RETURN NULL; END $$"
        )
        for table in TABLES:
            op.execute(
                f"CREATE CONSTRAINT TRIGGER pull_version_{table}"
                f" AFTER INSERT OR UPDATE OR DELETE ON {table}"
                " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW"
                " EXECUTE FUNCTION bump_pull_version()"
            )
    else:
        for table in TABLES:
            for event in ("insert", "update", "delete"):
                op.execute(
                    f"CREATE TRIGGER pull_version_{table}_{event} AFTER {event.upper()}"
                    f" ON {table} BEGIN {_BUMP}; END"
                )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER pull_version_{table} ON {table}")
        op.execute("DROP FUNCTION bump_pull_version()")
    else:
        for table in TABLES:
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER pull_version_{table}_{event}")
    op.drop_table("pull_version")
