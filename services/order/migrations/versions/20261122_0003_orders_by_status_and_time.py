"""orders by status and time

The saga's watch (the oldest order ``placed``, the oldest ``awaiting_payment`` past its
``pay_by``) and the sweep of unpaid orders read the oldest orders of one status: an index on
(status, placed_at) and one on (status, pay_by) answer them from one end, and the first serves
whatever the index on status alone served.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 06:45:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orders_status"))
        batch_op.create_index("orders_status_placed_at", ["status", "placed_at"], unique=False)
        batch_op.create_index("orders_status_pay_by", ["status", "pay_by"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("orders_status_pay_by")
        batch_op.drop_index("orders_status_placed_at")
        batch_op.create_index(batch_op.f("ix_orders_status"), ["status"], unique=False)
