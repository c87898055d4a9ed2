"""pickup_parts: when the shop said its part was prepared (OrderPartPrepared)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 04:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import libs.sqltypes

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("pickup_parts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("prepared_at", libs.sqltypes.UtcDateTime(timezone=True),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pickup_parts", schema=None) as batch_op:
        batch_op.drop_column("prepared_at")
