"""How long a shop's 5,000-row CSV catalogue takes to check, import, and import again (nothing
changing), straight on a catalog database as ``adopte catalog import`` does it.

    uv run python -m bench.catalog_import [--rows 5000] [--database sqlite|URL]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from libs.kit.db import Database
from services.catalog.bootstrap import SERVICE, CatalogSettings
from services.catalog.csv_catalogue.commands import import_catalogue
from services.catalog.csv_catalogue.file_format import COLUMNS
from services.catalog.tables import KnownHub, Shop

VARIANTS = ("250 g", "500 g", "1 kg")


def catalogue_file(rows: int) -> bytes:
    lines = [";".join(COLUMNS)]
    for row in range(rows):
        product, variant = divmod(row, len(VARIANTS))
        lines.append(f"SKU-{row:05d};Produit {product} du terroir;{VARIANTS[variant]};"
                     f"{4 + row % 17},{row % 100:02d};{row % 40};piece;5,5;epicerie;local|bio;"
                     f"Un produit de la boutique, numéro {product}.;oui")
    return ("\n".join(lines) + "\n").encode()


async def open_shop(settings: CatalogSettings) -> uuid.UUID:
    database = Database(settings.database_url_for(SERVICE.name), SERVICE.metadata)
    await database.start()
    try:
        hub = KnownHub(id=uuid.uuid4(), name="Le Grenier Partagé", town="Paimpol")
        shop = Shop(id=uuid.uuid4(), hub_id=hub.id, name="Épicerie du port", owner_id=uuid.uuid4(),
                    owner_email="bench@adopte.test", opened_at=datetime.now(UTC))
        async with database.sessions() as session, session.begin():
            session.add(hub)
            await session.flush()
            session.add(shop)
        return shop.id
    finally:
        await database.stop()


async def timed(label: str, settings: CatalogSettings, shop_id: uuid.UUID, data: bytes,
                *, dry_run: bool) -> None:
    started = time.perf_counter()
    report = await import_catalogue(settings, shop_id, data, dry_run=dry_run)
    elapsed = time.perf_counter() - started
    assert not report.errors, report.errors[:3]
    print(f"{label:<28} {elapsed:6.2f} s   {report.rows} rows: {report.created} created, "
          f"{report.updated} updated, {report.unchanged} unchanged")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--database", default="sqlite",
                        help="sqlite (a temporary file), or a PostgreSQL URL of an empty database")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        database_url = None if arguments.database == "sqlite" else arguments.database
        settings = CatalogSettings(data_dir=Path(data_dir), database_url=database_url)
        shop_id = await open_shop(settings)
        data = catalogue_file(arguments.rows)
        print(f"{arguments.rows} rows, {len(data) / 2**20:.2f} MiB, on {arguments.database}")
        await timed("dry run", settings, shop_id, data, dry_run=True)
        await timed("import", settings, shop_id, data, dry_run=False)
        await timed("import again (no change)", settings, shop_id, data, dry_run=False)
        changed = data.replace(b";piece;5,5;", b";piece;20;")
        await timed("import with every row changed", settings, shop_id, changed, dry_run=False)


if __name__ == "__main__":
    asyncio.run(main())
