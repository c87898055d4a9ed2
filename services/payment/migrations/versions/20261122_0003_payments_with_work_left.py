"""payments with work left

The provider step's rounds read the payments of one status that still have work: those taken
whose processor fee is not known yet (a new ``payments.fee_recorded``, set for every payment
that has its ``processor_fees`` row) and those cancelled the provider has not heard of. An index
on (status, fee_recorded) and one on (status, provider_cancelled_at) find them without reading
every payment of that status; the first serves whatever the index on status alone served.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 06:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fee_recorded", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    payments = sa.table("payments", sa.column("id", sa.Uuid()),
                        sa.column("fee_recorded", sa.Boolean()))
    fees = sa.table("processor_fees", sa.column("payment_id", sa.Uuid()))
    op.execute(payments.update().where(payments.c.id.in_(sa.select(fees.c.payment_id)))
               .values(fee_recorded=True))
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.alter_column("fee_recorded", existing_type=sa.Boolean(), server_default=None)
        batch_op.drop_index(batch_op.f("ix_payments_status"))
        batch_op.create_index("payments_status_fee_recorded", ["status", "fee_recorded"],
                              unique=False)
        batch_op.create_index("payments_status_provider_cancelled_at",
                              ["status", "provider_cancelled_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index("payments_status_provider_cancelled_at")
        batch_op.drop_index("payments_status_fee_recorded")
        batch_op.create_index(batch_op.f("ix_payments_status"), ["status"], unique=False)
        batch_op.drop_column("fee_recorded")
