"""member prices

A variant may have a member price (``product_variants.member_price_cents``, null: none), what the
hub's members pay instead of its price.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 03:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("product_variants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("member_price_cents", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("product_variants", schema=None) as batch_op:
        batch_op.drop_column("member_price_cents")
