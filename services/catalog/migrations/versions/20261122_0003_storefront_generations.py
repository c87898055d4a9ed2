"""storefront generations

``storefront_generations`` counts, per hub, the committed changes to what its public pages show
(services/catalog/storefront/freshness.py): triggers on every table those pages read bump the
hub's row in the transaction that writes, whichever code writes. A variant's stock only counts
when it goes in or out of stock: that is all the pages show of it, and reservations move stock
on every order.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 06:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Table -> what names its hub, from the row written: the hub itself, its hub_id, its shop, its
# product.
_WATCHED = {
    "known_hubs": "id",
    "shops": "hub_id",
    "catalogue_entries": "hub_id",
    "shop_photos": "shop_id",
    "products": "shop_id",
    "product_photos": "shop_id",
    "product_variants": "shop_id",
    "product_categories": "product_id",
}
_OPERATIONS = ("insert", "update", "delete")
# A variant's update that changes what the pages show (its stock only in or out of stock).
_VARIANT_SHOWN = " OR ".join([
    "(old.on_hand > old.reserved) {distinct} (new.on_hand > new.reserved)",
    *(f"old.{column} {{distinct}} new.{column}"
      for column in ("product_id", "shop_id", "label", "price_cents", "member_price_cents",
                     "available", "position")),
])


def upgrade() -> None:
    dialect = op.get_context().dialect.name
    op.create_table(
        "storefront_generations",
        sa.Column("hub_id", sa.Uuid(), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("hub_id"),
    )
    if dialect == "postgresql":
        op.execute(_POSTGRESQL_FUNCTION)
    for table, key in _WATCHED.items():
        for operation in _OPERATIONS:
            op.execute(_trigger(dialect, table, key, operation))


def downgrade() -> None:
    dialect = op.get_context().dialect.name
    for table in _WATCHED:
        for operation in _OPERATIONS:
            on_table = " ON " + table if dialect == "postgresql" else ""
            op.execute(f"DROP TRIGGER {_name(table, operation)}{on_table}")
    if dialect == "postgresql":
        op.execute("DROP FUNCTION storefront_changed()")
    op.drop_table("storefront_generations")


def _name(table: str, operation: str) -> str:
    return f"storefront_{table}_{operation}"


def _trigger(dialect: str, table: str, key: str, operation: str) -> str:
    when = ""
    if table == "product_variants" and operation == "update":
        distinct = "IS DISTINCT FROM" if dialect == "postgresql" else "IS NOT"
        when = f" WHEN ({_VARIANT_SHOWN.format(distinct=distinct)})"
    if dialect == "postgresql":
        when = when.replace("old.", "OLD.").replace("new.", "NEW.")
        return (f"CREATE CONSTRAINT TRIGGER {_name(table, operation)} AFTER {operation.upper()}"
                f" ON {table} DEFERRABLE INITIALLY DEFERRED FOR EACH ROW{when}"
                f" EXECUTE FUNCTION storefront_changed('{key}')")
    row = "old" if operation == "delete" else "new"
    return (f"CREATE TRIGGER {_name(table, operation)} AFTER {operation.upper()} ON {table}"
            f"{when} BEGIN {_SQLITE_BUMP.format(hub=_SQLITE_HUB[key].format(row=row))}; END")


# SQLite: the hub of the row, then its row of generations made or bumped. A row whose shop or
# product is gone (deleted first in the same transaction) has no hub left: that deletion bumped it.
_SQLITE_HUB = {
    "id": "{row}.id",
    "hub_id": "{row}.hub_id",
    "shop_id": "(SELECT hub_id FROM shops WHERE id = {row}.shop_id)",
    "product_id": "(SELECT shops.hub_id FROM products JOIN shops ON shops.id = products.shop_id"
                  " WHERE products.id = {row}.product_id)",
}
_SQLITE_BUMP = """INSERT INTO storefront_generations (hub_id, generation)
                  SELECT hub, 1 FROM (SELECT {hub} AS hub) WHERE hub IS NOT NULL
                  ON CONFLICT (hub_id) DO UPDATE SET generation = generation + 1"""

# PostgreSQL: one function for every trigger, told by its argument which column names the hub.
# The triggers are deferred to the commit, so that the hub's row is locked last, once the
# transaction holds every other lock it takes (a hub locked in the middle of a transaction, say
# by a variant going out of stock, would deadlock with one holding a variant it then needs), and
# for the shortest time; and each hub is bumped once per transaction, however many rows changed.
_POSTGRESQL_FUNCTION = """
CREATE FUNCTION storefront_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    written jsonb := to_jsonb(CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END);
    bumped text := coalesce(current_setting('storefront.bumped', true), '');
    hub uuid;
BEGIN
    IF TG_ARGV[0] IN ('id', 'hub_id') THEN
        hub := (written ->> TG_ARGV[0])::uuid;
    ELSIF TG_ARGV[0] = 'shop_id' THEN
        SELECT hub_id INTO hub FROM shops WHERE id = (written ->> 'shop_id')::uuid;
    ELSE
        SELECT shops.hub_id INTO hub FROM products JOIN shops ON shops.id = products.shop_id
            WHERE products.id = (written ->> 'product_id')::uuid;
    END IF;
    IF hub IS NULL OR strpos(bumped, hub::text) > 0 THEN
        RETURN NULL;
    END IF;
    PERFORM set_config('storefront.bumped', bumped || hub::text, true);
    INSERT INTO storefront_generations (hub_id, generation) VALUES (hub, 1)
        ON CONFLICT (hub_id) DO UPDATE SET generation = storefront_generations.generation + 1;
    RETURN NULL;
END
$$"""
