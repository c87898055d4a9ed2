"""A shop's catalogue imported from and exported to CSV: every bad row reported by its line with
nothing written, all-or-nothing imports idempotent by SKU, the export importing back unchanged,
and the command line."""

from __future__ import annotations

import asyncio

import pytest
from typer.testing import CliRunner

from libs.contracts.catalog import ProductChanged, ProductListed
from services.catalog.csv_catalogue.file_format import MAX_FILE_BYTES, parse_catalogue
from services.cli import app

HEADER = "sku;produit;variante;prix;stock;unite;tva;categories;etiquettes;description;disponible\n"
GOOD = (HEADER
        + "MIEL-250;Miel de fleurs;250 g;6,50;12;piece;5,5;epicerie;local|bio;Du Trégor.;oui\n"
        + "MIEL-500;Miel de fleurs;500 g;11.50;4;piece;5,5;epicerie;local|bio;Du Trégor.;oui\n"
        + "PAIN-1;Pain de campagne;;4,5;20;piece;5,5;boulangerie;;;non\n")


@pytest.fixture
async def shop(catalog):
    hub_id = await catalog.open_hub()
    owner = await catalog.register("marie@fournil.test")
    return hub_id, owner, await catalog.open_shop(hub_id, owner)


async def send(catalog, shop: dict, person, text: str | bytes, *, dry_run: bool):
    data = text.encode() if isinstance(text, str) else text
    return await catalog.client.post(
        f"/catalog/api/v1/shops/{shop['id']}/imports", params={"dry_run": str(dry_run).lower()},
        headers=catalog.headers(person), files={"file": ("catalogue.csv", data, "text/csv")})


async def owned_products(catalog, shop: dict, person) -> dict[str, tuple]:
    """Each variant by SKU: (product, label, price, on hand, available)."""
    exported = await catalog.client.get(f"/catalog/api/v1/shops/{shop['id']}/catalog.csv",
                                        headers=catalog.headers(person))
    assert exported.status_code == 200, exported.text
    return {row.sku: (row.name, row.label, row.price_cents, row.stock, row.available)
            for row in parse_catalogue(exported.content).rows}


def test_prices_are_read_exactly_and_the_delimiter_and_bom_are_detected():
    text = ("\ufeffSKU,Produit,Prix,Stock\n"
            "A-1,Pâté,\"4,50\",3\nA-2,Rillettes,0.1,0\nA-3,Cidre,\"1 250,99 €\",1\n")

    parsed = parse_catalogue(text.encode())

    assert parsed.errors == []
    assert [(row.sku, row.name, row.price_cents) for row in parsed.rows] == [
        ("A-1", "Pâté", 450), ("A-2", "Rillettes", 10), ("A-3", "Cidre", 125099)]
    assert parse_catalogue(GOOD.encode()).rows[1].price_cents == 1150


async def test_a_dry_run_reports_every_bad_row_and_writes_nothing(catalog, shop):
    _, owner, opened = shop
    bad = (HEADER
           + "MIEL-250;Miel de fleurs;250 g;six euros;12;piece;5,5;epicerie;;;oui\n"
           + "OK-1;Confiture;;3,00;-2;bocal;7;;;;peut-être\n"
           + "OK-2;Cidre;;4,00;5;litre;20;boissons;;;oui\n"
           + "OK-2;Poiré;;4,00;5;litre;20;boissons;;;oui\n"
           + "OK-3;Cidre;75 cl;4,00;5;litre;5,5;boissons;;;oui\n"
           + ";;;;\n")

    checked = await send(catalog, opened, owner, bad, dry_run=True)
    applied = await send(catalog, opened, owner, bad, dry_run=False)

    assert checked.status_code == applied.status_code == 200
    report = checked.json()
    assert (report["dry_run"], report["created"]) == (True, 0)
    assert [(e["line"], e["column"]) for e in report["errors"]] == [
        (2, "prix"), (3, "stock"), (3, "unite"), (3, "tva"), (3, "disponible"), (5, "sku"),
        (6, None)]
    assert applied.json()["errors"] == report["errors"]
    assert await owned_products(catalog, opened, owner) == {}
    assert await catalog.events(ProductListed) == []


async def test_an_import_creates_then_reimporting_changes_nothing(catalog, shop):
    hub_id, owner, opened = shop

    dry = await send(catalog, opened, owner, GOOD, dry_run=True)
    first = await send(catalog, opened, owner, GOOD, dry_run=False)
    again = await send(catalog, opened, owner, GOOD, dry_run=False)

    assert {k: dry.json()[k] for k in ("rows", "created", "updated")} == {
        "rows": 3, "created": 3, "updated": 0}
    assert (first.json()["created"], first.json()["errors"]) == (3, [])
    assert (again.json()["created"], again.json()["updated"], again.json()["unchanged"]) == (0, 0, 3)
    assert await owned_products(catalog, opened, owner) == {
        "MIEL-250": ("Miel de fleurs", "250 g", 650, 12, True),
        "MIEL-500": ("Miel de fleurs", "500 g", 1150, 4, True),
        "PAIN-1": ("Pain de campagne", "", 450, 20, False)}
    listed = await catalog.events(ProductListed)
    assert sorted(event.name for event in listed) == ["Miel de fleurs", "Pain de campagne"]
    assert await catalog.events(ProductChanged) == []
    [honey] = await catalog.products(hub_id, q="miels")
    assert [v["sku"] for v in honey["variants"]] == ["MIEL-250", "MIEL-500"]


async def test_a_changed_price_updates_the_variant_and_is_announced(catalog, shop):
    _, owner, opened = shop
    await send(catalog, opened, owner, GOOD, dry_run=False)

    changed = await send(catalog, opened, owner, GOOD.replace("11.50;4", "12,00;7"),
                         dry_run=False)

    assert (changed.json()["updated"], changed.json()["unchanged"]) == (1, 2)
    assert (await owned_products(catalog, opened, owner))["MIEL-500"][2:4] == (1200, 7)
    [event] = await catalog.events(ProductChanged)
    assert [(v.sku, v.price_cents) for v in event.variants] == [("MIEL-250", 650),
                                                                ("MIEL-500", 1200)]


async def test_the_export_imports_back_unchanged(catalog, shop):
    _, owner, opened = shop
    await catalog.list_product(opened, owner, name="Far breton", price_cents=1290, stock=3)
    await send(catalog, opened, owner, GOOD, dry_run=False)
    exported = await catalog.client.get(f"/catalog/api/v1/shops/{opened['id']}/catalog.csv",
                                        headers=catalog.headers(owner))

    reimported = await send(catalog, opened, owner, exported.content, dry_run=False)

    assert exported.headers["content-type"].startswith("text/csv")
    assert reimported.json() | {"errors": []} == {
        "dry_run": False, "rows": 4, "created": 0, "updated": 0, "unchanged": 4, "errors": []}
    template = await catalog.client.get(
        f"/catalog/api/v1/shops/{opened['id']}/catalog-template.csv")
    assert parse_catalogue(template.content).errors == []
    assert len(parse_catalogue(template.content).rows) == 1


async def test_another_shops_owner_may_neither_import_nor_export(catalog, shop):
    hub_id, _, opened = shop
    stranger = await catalog.register("paul@cidrerie.test")
    await catalog.open_shop(hub_id, stranger, name="Cidrerie")

    imported = await send(catalog, opened, stranger, GOOD, dry_run=False)
    exported = await catalog.client.get(f"/catalog/api/v1/shops/{opened['id']}/catalog.csv",
                                        headers=catalog.headers(stranger))

    assert (imported.status_code, exported.status_code) == (403, 403)
    assert await catalog.events(ProductListed) == []


async def test_an_oversized_file_is_refused(catalog, shop):
    _, owner, opened = shop

    refused = await send(catalog, opened, owner, GOOD.encode() + b" " * MAX_FILE_BYTES,
                         dry_run=True)

    assert refused.status_code == 413
    assert await catalog.events(ProductListed) == []


async def test_the_import_page_reports_errors_by_line(catalog, shop):
    _, owner, opened = shop
    cookie = catalog.session_cookie(owner)

    page = await catalog.client.get(f"/catalog/shops/{opened['id']}/import", headers=cookie)
    result = await catalog.client.post(
        f"/catalog/shops/{opened['id']}/import", headers=cookie, data={"mode": "importer"},
        files={"file": ("c.csv", GOOD.replace("6,50", "six").encode(), "text/csv")})

    assert page.status_code == 200 and "Vérifier" in page.text
    assert result.status_code == 422
    assert "prix invalide" in result.text and "<th scope=\"row\">2</th>" in result.text
    assert await owned_products(catalog, opened, owner) == {}


async def test_the_command_line_imports_into_the_data_dir(catalog, shop, tmp_path):
    _, owner, opened = shop
    path = tmp_path / "catalogue.csv"
    path.write_text(GOOD, encoding="utf-8")
    command = ["catalog", "import", str(path), "--shop", opened["id"], "--data-dir", str(tmp_path)]

    def adopte(*arguments: str):
        # The command runs its own event loop, which cannot nest in the test's.
        return asyncio.to_thread(CliRunner().invoke, app, [*command, *arguments])

    checked = await adopte("--dry-run")
    imported = await adopte()
    path.write_text(GOOD.replace("6,50", "six"), encoding="utf-8")
    refused = await adopte()

    assert (checked.exit_code, imported.exit_code, refused.exit_code) == (0, 0, 1), imported.output
    assert "3 created" in imported.output
    assert "line 2" in refused.output
    exported_to = tmp_path / "export.csv"
    exported = await asyncio.to_thread(CliRunner().invoke, app, [
        "catalog", "export", "--shop", opened["id"], "-o", str(exported_to),
        "--data-dir", str(tmp_path)])
    assert exported.exit_code == 0, exported.output
    assert [row.sku for row in parse_catalogue(exported_to.read_bytes()).rows] == [
        "MIEL-250", "MIEL-500", "PAIN-1"]
    assert set(await owned_products(catalog, opened, owner)) == {"MIEL-250", "MIEL-500", "PAIN-1"}


async def test_an_import_is_all_or_nothing_and_idempotent_on_each_database(
        catalog_on_each_database):
    catalog = catalog_on_each_database
    hub_id = await catalog.open_hub()
    owner = await catalog.register("marie@fournil.test")
    opened = await catalog.open_shop(hub_id, owner)
    await send(catalog, opened, owner, GOOD, dry_run=False)
    bad_and_changed = GOOD.replace("11.50;4", "12,00;7") + "X-1;Cidre;;trois;1;;;;;;\n"

    refused = await send(catalog, opened, owner, bad_and_changed, dry_run=False)
    again = await send(catalog, opened, owner, GOOD, dry_run=False)

    assert [(e["line"], e["column"]) for e in refused.json()["errors"]] == [(5, "prix")]
    assert (again.json()["unchanged"], again.json()["errors"]) == (3, [])
    assert (await owned_products(catalog, opened, owner))["MIEL-500"][2:4] == (1150, 4)
    assert len(await catalog.events(ProductListed)) == 2


async def test_the_hubs_association_imports_for_the_shop_and_the_audit_trail_says_so(
        catalog, shop):
    hub_id, owner, opened = shop
    association = await catalog.register("asso@paimpol.test")
    await catalog.assign(association, hub_id)

    imported = await send(catalog, opened, association, GOOD, dry_run=False)
    journal = await catalog.client.get(f"/catalog/api/v1/shops/{opened['id']}/audit",
                                       headers=catalog.headers(owner))

    assert imported.json()["created"] == 3
    latest = journal.json()[0]
    assert (latest["action"], latest["by_email"], latest["on_behalf"]) == (
        "catalogue_imported", "asso@paimpol.test", True)
    assert latest["changes"] == {"created": 3, "updated": 0, "unchanged": 0}
