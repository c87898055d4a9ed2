"""The benchmark's network of hubs, written in bulk straight into the catalog's database.

Full: 50 hubs; the first has 100 shops of 50 products (5,000), the 49 others share 95,000
products among 20 shops each: 100,000 products in all. Quick: 3 hubs, 20 shops of 25 products in
the first, 5 shops of 10 in the others (600 products).

The rows go in with multi-row inserts, one transaction per hub, in the catalog's own tables at its
head migration; each product's catalogue (search) entry is made by ``search._entry``, as the
product use cases make it (``search.reindex_products``), from the rows in hand.
The products look like bench/catalog.py's (trades, qualifiers, variants, 10 % out of stock), so
searches hit a realistic share of them. Nothing is announced by event: the 100,000 products are
for the catalogue's pages and searches; the saga's orders go to shops and products opened
through the API (bench/saga.py), which every service hears of as it would in production.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from sqlalchemy import insert

from bench.catalog import KINDS, QUALIFIERS, TAGS, WEIGHTS, _shop
from libs.kit.db import Database
from libs.kit.migrations import migrations_of, upgrade
from services.catalog.storefront import search
from services.catalog.tables import (
    CatalogTable,
    CatalogueEntry,
    KnownHub,
    Product,
    ProductCategory,
    ProductVariant,
    Shop,
)

TOWNS = ["Lannion", "Paimpol", "Tréguier", "Perros-Guirec", "Guingamp", "Morlaix", "Redon",
         "Dinan", "Quimper", "Vannes", "Lorient", "Fougères", "Vitré", "Pontivy", "Carhaix",
         "Loudéac", "Lamballe", "Concarneau", "Douarnenez", "Landerneau", "Brest", "Auray",
         "Ploërmel", "Rostrenen", "Callac"]
INSERT_CHUNK = 2000  # rows per statement: well under SQLite's 32,766 bound parameters


@dataclass(frozen=True)
class Network:
    hubs: int
    main_shops: int
    main_products_per_shop: int
    other_shops: int  # per hub
    other_products: int  # in all, spread over the other hubs' shops

    @property
    def products(self) -> int:
        return self.main_shops * self.main_products_per_shop + self.other_products


FULL = Network(hubs=50, main_shops=100, main_products_per_shop=50, other_shops=20,
               other_products=95_000)
QUICK = Network(hubs=3, main_shops=20, main_products_per_shop=25, other_shops=5,
                other_products=100)


@dataclass
class SeededNetwork:
    main_hub_id: uuid.UUID
    main_shop_ids: list[uuid.UUID]
    hubs: int
    shops: int
    products: int
    seconds: float = 0.0
    per_hub_s: list[float] = field(default_factory=list)

    def figures(self) -> dict:
        return {"hubs": self.hubs, "shops": self.shops, "products": self.products,
                "seconds": round(self.seconds, 1), "main_hub_id": str(self.main_hub_id)}


async def seed_network(url: str, network: Network,
                       progress: Callable[[int], None] = lambda products: None) -> SeededNetwork:
    """Brings the catalog's database at ``url`` to its head migration and writes the network;
    ``progress(products)`` is told as hubs are done. Always the same products (a fixed seed)."""
    started = time.perf_counter()
    await upgrade(url, migrations_of("catalog"))
    database = Database(url, CatalogTable.metadata)
    await database.start(create_tables=False)
    draw = random.Random(2026)
    others = network.hubs - 1
    other_shop_count = others * network.other_shops
    try:
        main_hub, main_shops = await _hub(database, draw, 0, [network.main_products_per_shop]
                                          * network.main_shops)
        progress(network.main_shops * network.main_products_per_shop)
        for number in range(1, network.hubs):
            first = (number - 1) * network.other_shops
            counts = [_share(network.other_products, other_shop_count, first + shop)
                      for shop in range(network.other_shops)]
            await _hub(database, draw, number, counts)
            progress(sum(counts))
    finally:
        await database.stop()
    return SeededNetwork(main_hub, main_shops, hubs=network.hubs,
                         shops=network.main_shops + other_shop_count,
                         products=network.products, seconds=time.perf_counter() - started)


def _share(total: int, parts: int, index: int) -> int:
    return total // parts + (1 if index < total % parts else 0)


async def _hub(database: Database, draw: random.Random, number: int, products_per_shop: list[int]
               ) -> tuple[uuid.UUID, list[uuid.UUID]]:
    town = TOWNS[number % len(TOWNS)]
    hub = {"id": uuid.uuid4(), "name": f"Tiers-lieu n° {number + 1}", "town": town}
    trades = [list(KINDS)[shop % len(KINDS)] for shop in range(len(products_per_shop))]
    shops = [_shop(draw, hub["id"], town, shop, trade) for shop, trade in enumerate(trades)]
    products, variants, categories, entries = [], [], [], []
    for shop, trade, count in zip(shops, trades, products_per_shop, strict=True):
        for index in range(count):
            product, its_variants, category = _product(draw, shop, trade, town, index)
            products.append(product)
            variants += its_variants
            categories.append({"product_id": product["id"], "category": category})
            entry = search._entry(_Row(product), shop, [_Variant(v) for v in its_variants],
                                  [category])
            if entry is not None:
                entries.append(entry)
    async with database.sessions() as session, session.begin():
        for table, rows in ((KnownHub, [hub]), (Shop, [_columns(Shop, shop) for shop in shops]),
                            (Product, products), (ProductVariant, variants),
                            (ProductCategory, categories), (CatalogueEntry, entries)):
            await _insert(session, table, rows)
    return hub["id"], [shop.id for shop in shops]


def _product(draw: random.Random, shop: Shop, trade: str, town: str, index: int
             ) -> tuple[dict, list[dict], str]:
    """As bench/catalog.py's: mostly of the shop's trade, sometimes of another kind; 30 % in two
    or three weights, 10 % of variants out of stock. Rows as dicts: building 100,000 ORM
    objects would take most of the seeding time."""
    category = trade if draw.random() < 0.8 else draw.choice(list(KINDS))
    kind, qualifier = draw.choice(KINDS[category]), draw.choice(QUALIFIERS)
    name = f"{kind} {qualifier}"
    product = {
        "id": uuid.uuid4(), "shop_id": shop.id, "name": name, "search_name": name.lower(),
        "description": f"{kind} {qualifier}, préparé à {town} par {shop.name}. "
                       f"{draw.choice(['Récolté', 'Fait', 'Choisi'])} avec soin, "
                       f"{draw.choice(['à déguster vite', 'se garde une semaine', 'idéal en cadeau'])}.",
        "unit": draw.choice(["piece", "piece", "kg", "litre"]), "vat_rate_bps": 550,
        "tags": draw.sample(TAGS, draw.choice([0, 0, 1, 2])), "available": True,
        "listed_at": datetime.now(UTC) - timedelta(minutes=draw.randrange(90 * 24 * 60)),
    }
    labels = WEIGHTS[:draw.choice([2, 3])] if draw.random() < 0.3 else [""]
    base = draw.randrange(80, 3000)
    variants = [
        {"id": uuid.uuid4(), "product_id": product["id"], "shop_id": shop.id, "label": label,
         "sku": f"B{index:04}-{position}", "price_cents": base * (position + 1),
         "member_price_cents": None, "available": True,
         "on_hand": 0 if draw.random() < 0.1 else draw.randrange(1, 50), "reserved": 0,
         "position": position, "stock_revision": 1}
        for position, label in enumerate(labels)
    ]
    return product, variants, category


class _Row(SimpleNamespace):
    def __init__(self, row: dict) -> None:
        super().__init__(**row)


class _Variant(_Row):
    @property
    def stock_available(self) -> int:
        return self.on_hand - self.reserved


def _columns(table: type[CatalogTable], row: CatalogTable) -> dict:
    return {column.name: getattr(row, column.name) for column in table.__table__.columns}


async def _insert(session, table: type[CatalogTable], rows: list[dict]) -> None:
    for start in range(0, len(rows), INSERT_CHUNK):
        await session.execute(insert(table.__table__), rows[start:start + INSERT_CHUNK])
