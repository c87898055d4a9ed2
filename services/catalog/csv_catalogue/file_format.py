"""A shop's catalogue as a CSV file, free of I/O: reading and checking every row, and writing the
catalogue back in the same format.

The format: UTF-8 (a byte order mark is accepted), fields separated by ``;`` or ``,`` (whichever
the header row uses), a header row naming the columns in any order, then one row per VARIANT:

- ``sku`` (required): the variant's reference in the shop; importing again updates the variant
  with this SKU, so the same file imported twice changes nothing the second time;
- ``produit`` (required): the product's name; rows with the same name are variants of one product;
- ``variante``: the variant's label ("250 g"), empty for a product sold one way;
- ``prix`` (required): in euros, "4,50" or "4.50";
- ``prix_adherent``: what the hub's members pay instead (a solidarity or member rate), in euros,
  strictly below ``prix``; empty for none. A file without this column leaves the member prices
  of the variants it updates as they are;
- ``stock`` (required): the units on hand, a whole number ≥ 0;
- ``unite``: piece, kg or litre (default piece);
- ``tva``: the VAT rate in %: 2,1, 5,5, 10 or 20 (default 5,5);
- ``categories``: category slugs separated by ``|`` (boulangerie|epicerie);
- ``etiquettes``: tags separated by ``|``;
- ``description``;
- ``disponible``: oui or non, whether the variant is on sale (default oui).

Product columns (unite, tva, categories, etiquettes, description) must be the same on every row
of a product. Line numbers are the file's, the header being line 1.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from libs.kit.errors import DomainError
from services.catalog.domain import (
    CATEGORIES,
    DEFAULT_VAT_RATE_BPS,
    MAX_DESCRIPTION,
    MAX_LABEL,
    MAX_SKU,
    MAX_STOCK,
    MAX_TAG,
    MAX_TAGS,
    MAX_VARIANTS,
    UNITS,
    VAT_RATES,
    InvalidPrice,
    cents_to_euros,
    euros_to_cents,
    searchable,
)

MAX_FILE_BYTES = 5 * 2**20
MAX_ROWS = 20_000
COLUMNS = ("sku", "produit", "variante", "prix", "prix_adherent", "stock", "unite", "tva",
           "categories", "etiquettes", "description", "disponible")
REQUIRED = ("sku", "produit", "prix", "stock")
LIST_SEPARATOR = "|"
_YES, _NO = "oui", "non"
_SKU_CHARACTERS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._/-")


class FileTooLarge(DomainError):
    status, code = 413, "payload_too_large"


class MissingFile(DomainError):
    status, code = 422, "validation_error"


@dataclass(frozen=True)
class RowError:
    line: int
    message: str
    column: str | None = None


@dataclass(frozen=True)
class CatalogueRow:
    """One variant of a product, as a row tells it."""

    line: int
    sku: str
    name: str
    label: str
    price_cents: int
    stock: int
    unit: str
    vat_rate_bps: int
    categories: tuple[str, ...]
    tags: tuple[str, ...]
    description: str
    available: bool
    member_price_cents: int | None = None
    # The file has no prix_adherent column: the variant keeps the member price it has.
    keeps_member_price: bool = False

    def product_fields(self) -> tuple:
        """What every row of one product must agree on."""
        return (self.unit, self.vat_rate_bps, self.categories, self.tags, self.description)


@dataclass
class ParsedCatalogue:
    rows: list[CatalogueRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    def products(self) -> dict[str, list[CatalogueRow]]:
        """The rows grouped by product (the name, case and accents aside), in file order."""
        grouped: dict[str, list[CatalogueRow]] = {}
        for row in self.rows:
            grouped.setdefault(product_key(row.name), []).append(row)
        return grouped


def product_key(name: str) -> str:
    return " ".join(searchable(name).split())


def parse_catalogue(data: bytes) -> ParsedCatalogue:
    """Every row of the file checked: the rows that are right, and every error with its line."""
    parsed = ParsedCatalogue()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        parsed.errors.append(RowError(line, "le fichier doit être encodé en UTF-8"))
        return parsed
    header_line = text.split("\n", 1)[0]
    delimiter = ";" if header_line.count(";") >= header_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = next(reader, None)
    if header is None:
        parsed.errors.append(RowError(1, "le fichier est vide : il faut au moins la ligne d'en-tête"))
        return parsed
    columns = [_column_name(name) for name in header]
    if _header_errors(columns, parsed.errors):
        return parsed
    for values in reader:
        if not any(value.strip() for value in values):
            continue
        if len(parsed.rows) + len(parsed.errors) >= MAX_ROWS:
            parsed.errors.append(RowError(reader.line_num, f"{MAX_ROWS} lignes au plus par fichier"))
            break
        _read_row(reader.line_num, columns, values, parsed)
    _check_products(parsed)
    return parsed


def _column_name(name: str) -> str:
    return searchable(name.strip())


def _header_errors(columns: list[str], errors: list[RowError]) -> bool:
    before = len(errors)
    unknown = [name for name in columns if name not in COLUMNS]
    if unknown:
        errors.append(RowError(1, f"colonnes inconnues : {', '.join(unknown)} "
                                  f"(colonnes possibles : {', '.join(COLUMNS)})"))
    twice = sorted({name for name in columns if columns.count(name) > 1})
    if twice:
        errors.append(RowError(1, f"colonnes en double : {', '.join(twice)}"))
    missing = [name for name in REQUIRED if name not in columns]
    if missing:
        errors.append(RowError(1, f"colonnes obligatoires absentes : {', '.join(missing)}"))
    return len(errors) > before


def _read_row(line: int, columns: list[str], values: list[str], parsed: ParsedCatalogue) -> None:
    if len(values) != len(columns):
        parsed.errors.append(RowError(line, f"{len(values)} champs au lieu de {len(columns)} "
                                            "(un séparateur de trop ou en moins ?)"))
        return
    cells = {name: value.strip() for name, value in zip(columns, values, strict=True)}
    errors: list[RowError] = []

    def checked(column: str, read, default=None):
        value = cells.get(column, "")
        if not value and default is not None:
            return default
        try:
            return read(value)
        except ValueError as error:
            errors.append(RowError(line, str(error), column))
            return None

    row = dict(
        sku=checked("sku", _sku), name=checked("produit", _name),
        label=checked("variante", _label, ""), price_cents=checked("prix", _price),
        stock=checked("stock", _stock), unit=checked("unite", _unit, "piece"),
        vat_rate_bps=checked("tva", _vat_rate, DEFAULT_VAT_RATE_BPS),
        categories=checked("categories", _categories, ()), tags=checked("etiquettes", _tags, ()),
        description=checked("description", _description, ""),
        available=checked("disponible", _yes_or_no, True),
        member_price_cents=checked("prix_adherent", _member_price),
        keeps_member_price="prix_adherent" not in cells,
    )
    member_price = row["member_price_cents"]
    if not errors and member_price is not None and member_price >= row["price_cents"]:
        errors.append(RowError(line, "le prix adhérent doit être inférieur au prix",
                               "prix_adherent"))
    if errors:
        parsed.errors.extend(errors)
    else:
        parsed.rows.append(CatalogueRow(line=line, **row))


def _sku(value: str) -> str:
    if not value:
        raise ValueError("le SKU est obligatoire")
    if len(value) > MAX_SKU or not set(value) <= _SKU_CHARACTERS or not value[0].isalnum():
        raise ValueError(f"SKU invalide {value!r} : lettres, chiffres et . _ / - ({MAX_SKU} "
                         "caractères au plus, commençant par une lettre ou un chiffre)")
    return value


def _name(value: str) -> str:
    value = " ".join(value.split())
    if not value or len(value) > 200:
        raise ValueError("le nom du produit est obligatoire (200 caractères au plus)")
    return value


def _label(value: str) -> str:
    value = " ".join(value.split())
    if len(value) > MAX_LABEL:
        raise ValueError(f"la variante a {MAX_LABEL} caractères au plus")
    return value


def _price(value: str) -> int:
    try:
        return euros_to_cents(value)
    except InvalidPrice:
        raise ValueError(f"prix invalide {value!r} : en euros, par exemple 4,50") from None


def _member_price(value: str) -> int | None:
    if not value:
        return None
    try:
        return euros_to_cents(value)
    except InvalidPrice:
        raise ValueError(f"prix adhérent invalide {value!r} : en euros, par exemple 3,20, ou "
                         "vide") from None


def _stock(value: str) -> int:
    if not value.isdigit() or int(value) > MAX_STOCK:
        raise ValueError(f"stock invalide {value!r} : un nombre entier de 0 à {MAX_STOCK}")
    return int(value)


def _unit(value: str) -> str:
    unit = searchable(value)
    aliases = {"pièce": "piece", "l": "litre", "litres": "litre", "pieces": "piece"}
    unit = aliases.get(unit, unit)
    if unit not in UNITS:
        raise ValueError(f"unité inconnue {value!r} : {', '.join(UNITS)}")
    return unit


def vat_percent(rate_bps: int) -> str:
    """550 as "5,5": how the file says a VAT rate."""
    return f"{Decimal(rate_bps) / 100:f}".rstrip("0").rstrip(".").replace(".", ",")


def _vat_rate(value: str) -> int:
    try:
        rate = Decimal(value.replace("%", "").replace(",", ".").strip()) * 100
    except InvalidOperation:
        rate = Decimal(-1)
    if rate not in VAT_RATES:
        raise ValueError(f"taux de TVA invalide {value!r} : "
                         f"{', '.join(vat_percent(bps) for bps in VAT_RATES)}")
    return int(rate)


def _items(value: str) -> list[str]:
    return list(dict.fromkeys(item.strip() for item in value.split(LIST_SEPARATOR) if item.strip()))


def _categories(value: str) -> tuple[str, ...]:
    categories = _items(value)
    unknown = [category for category in categories if category not in CATEGORIES]
    if unknown:
        raise ValueError(f"catégorie inconnue {', '.join(unknown)} : {', '.join(CATEGORIES)}")
    return tuple(sorted(categories))


def _tags(value: str) -> tuple[str, ...]:
    tags = list(dict.fromkeys(" ".join(tag.split()).lower() for tag in _items(value)))
    if len(tags) > MAX_TAGS or any(len(tag) > MAX_TAG for tag in tags):
        raise ValueError(f"{MAX_TAGS} étiquettes au plus, de {MAX_TAG} caractères au plus")
    return tuple(tags)


def _description(value: str) -> str:
    if len(value) > MAX_DESCRIPTION:
        raise ValueError(f"la description a {MAX_DESCRIPTION} caractères au plus")
    return value


def _yes_or_no(value: str) -> bool:
    answer = searchable(value)
    if answer not in (_YES, _NO):
        raise ValueError(f"disponible : oui ou non, pas {value!r}")
    return answer == _YES


def _check_products(parsed: ParsedCatalogue) -> None:
    """What no single row tells: a SKU used twice, a product whose rows disagree, two variants
    of a product with the same label, too many variants."""
    first_line_of: dict[str, int] = {}
    twice: set[int] = set()
    for row in parsed.rows:
        if row.sku in first_line_of:
            parsed.errors.append(RowError(row.line, f"SKU {row.sku} déjà utilisé ligne "
                                                    f"{first_line_of[row.sku]}", "sku"))
            twice.add(row.line)
        else:
            first_line_of[row.sku] = row.line
    for rows in parsed.products().values():
        first, labels = rows[0], {}
        for row in rows:
            if row.line in twice:
                continue
            if row.product_fields() != first.product_fields():
                parsed.errors.append(RowError(
                    row.line, f"les colonnes du produit (unite, tva, categories, etiquettes, "
                              f"description) diffèrent de la ligne {first.line}"))
            label = row.label.casefold()
            if label in labels:
                parsed.errors.append(RowError(
                    row.line, f"variante {row.label or '(sans libellé)'!s} déjà donnée ligne "
                              f"{labels[label]} pour ce produit", "variante"))
            labels.setdefault(label, row.line)
        if len(rows) > MAX_VARIANTS:
            parsed.errors.append(RowError(rows[MAX_VARIANTS].line,
                                          f"un produit a {MAX_VARIANTS} variantes au plus"))
    parsed.errors.sort(key=lambda error: error.line)
    bad = {error.line for error in parsed.errors}
    parsed.rows = [row for row in parsed.rows if row.line not in bad]


def write_catalogue(rows: Iterable[CatalogueRow]) -> str:
    """The rows as a file ``parse_catalogue`` reads back unchanged (``;``-separated, with a BOM so
    that spreadsheets open it as UTF-8)."""
    out = io.StringIO(newline="")
    out.write("\ufeff")
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([
            row.sku, row.name, row.label, cents_to_euros(row.price_cents),
            "" if row.member_price_cents is None else cents_to_euros(row.member_price_cents),
            row.stock, row.unit,
            vat_percent(row.vat_rate_bps), LIST_SEPARATOR.join(row.categories),
            LIST_SEPARATOR.join(row.tags), row.description, _YES if row.available else _NO,
        ])
    return out.getvalue()


TEMPLATE_ROWS = (
    CatalogueRow(line=2, sku="MIEL-250", name="Miel de fleurs", label="250 g", price_cents=650,
                 stock=12, unit="piece", vat_rate_bps=550, categories=("epicerie",),
                 tags=("local", "bio"), description="Miel de fleurs du Trégor.", available=True,
                 member_price_cents=590),
)
