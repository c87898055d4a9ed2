"""membership payments

A payment is an order's or a membership fee's: ``payments.order_id`` may be null, beside a new
``membership_id``, and exactly one of them is set; the ledger's movements of a membership fee
have no order.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 03:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("membership_id", sa.Uuid(), nullable=True))
        batch_op.alter_column("order_id", existing_type=sa.Uuid(), nullable=True)
        batch_op.create_unique_constraint("payments_membership_id_key", ["membership_id"])
        batch_op.create_check_constraint("payment_has_one_purpose",
                                         "(order_id IS NULL) <> (membership_id IS NULL)")

    with op.batch_alter_table("ledger_transactions", schema=None) as batch_op:
        batch_op.alter_column("order_id", existing_type=sa.Uuid(), nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("ledger_transactions", schema=None) as batch_op:
        batch_op.alter_column("order_id", existing_type=sa.Uuid(), nullable=False)

    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_constraint("payment_has_one_purpose", type_="check")
        batch_op.drop_constraint("payments_membership_id_key", type_="unique")
        batch_op.alter_column("order_id", existing_type=sa.Uuid(), nullable=False)
        batch_op.drop_column("membership_id")
