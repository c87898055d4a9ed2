"""memberships: the hubs' terms, their members and each period of membership

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 03:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import libs.sqltypes

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CURRENT_STATUSES = "status in ('awaiting_payment', 'active')"


def upgrade() -> None:
    op.create_table(
        "membership_terms",
        sa.Column("hub_id", sa.Uuid(), nullable=False),
        sa.Column("open", sa.Boolean(), nullable=False),
        sa.Column("fee_cents", sa.Integer(), nullable=False),
        sa.Column("duration_months", sa.Integer(), nullable=True),
        sa.Column("benefits", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.Column("updated_at", libs.sqltypes.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["hub_id"],
            ["hubs.id"],
        ),
        sa.PrimaryKeyConstraint("hub_id"),
    )
    op.create_table(
        "members",
        sa.Column("hub_id", sa.Uuid(), nullable=False),
        sa.Column("resident_id", sa.Uuid(), nullable=False),
        sa.Column("number", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
        sa.Column("since", libs.sqltypes.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["hub_id"],
            ["hubs.id"],
        ),
        sa.PrimaryKeyConstraint("hub_id", "resident_id"),
        sa.UniqueConstraint("hub_id", "number", name="members_one_number_per_hub"),
    )
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_members_since"), ["since"], unique=False)

    op.create_table(
        "memberships",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("hub_id", sa.Uuid(), nullable=False),
        sa.Column("resident_id", sa.Uuid(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("fee_cents", sa.Integer(), nullable=False),
        sa.Column("duration_months", sa.Integer(), nullable=True),
        sa.Column("renews", sa.Uuid(), nullable=True),
        sa.Column("requested_at", libs.sqltypes.UtcDateTime(timezone=True), nullable=False),
        sa.Column("pay_by", libs.sqltypes.UtcDateTime(timezone=True), nullable=True),
        sa.Column("started_at", libs.sqltypes.UtcDateTime(timezone=True), nullable=True),
        sa.Column("expires_at", libs.sqltypes.UtcDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", libs.sqltypes.UtcDateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.ForeignKeyConstraint(
            ["hub_id"],
            ["hubs.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_memberships_expires_at"), ["expires_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_memberships_hub_id"), ["hub_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_memberships_resident_id"), ["resident_id"], unique=False)
        batch_op.create_index(
            "memberships_one_current",
            ["hub_id", "resident_id", "status"],
            unique=True,
            sqlite_where=sa.text(CURRENT_STATUSES),
            postgresql_where=sa.text(CURRENT_STATUSES),
        )


def downgrade() -> None:
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.drop_index(
            "memberships_one_current",
            sqlite_where=sa.text(CURRENT_STATUSES),
            postgresql_where=sa.text(CURRENT_STATUSES),
        )
        batch_op.drop_index(batch_op.f("ix_memberships_resident_id"))
        batch_op.drop_index(batch_op.f("ix_memberships_hub_id"))
        batch_op.drop_index(batch_op.f("ix_memberships_expires_at"))

    op.drop_table("memberships")
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_members_since"))

    op.drop_table("members")
    op.drop_table("membership_terms")
