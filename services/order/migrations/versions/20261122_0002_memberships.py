"""memberships and member prices

The read model of residents' memberships of hubs (``memberships``, from MembershipStarted and
MembershipEnded) and each variant's member price (``product_variants.member_price_cents``, null:
none), so that a member's basket is priced at the member prices.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 03:55:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import libs.sqltypes

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "memberships",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("hub_id", sa.Uuid(), nullable=False),
        sa.Column("resident_id", sa.Uuid(), nullable=False),
        sa.Column("started_at", libs.sqltypes.UtcDateTime(timezone=True), nullable=True),
        sa.Column("expires_at", libs.sqltypes.UtcDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", libs.sqltypes.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_memberships_resident_id"), ["resident_id"],
                              unique=False)

    with op.batch_alter_table("product_variants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("member_price_cents", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("product_variants", schema=None) as batch_op:
        batch_op.drop_column("member_price_cents")

    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_memberships_resident_id"))

    op.drop_table("memberships")
