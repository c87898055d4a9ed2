"""Hub page and search latency of the catalog, on a hub of 100 shops and 5,000 products.

The data goes straight into the catalog's tables (and two smaller hubs beside it, so that a hub's
catalogue is a part of the index, not all of it), with the catalogue index written by the same
``search.reindex_products`` the product use cases call. Then the catalog app is served in this
process by uvicorn on 127.0.0.1 (a free port), on uvloop as ``adopte serve`` runs it, and,
scenario by scenario, N concurrent clients send a fixed number of requests over keep-alive HTTP
connections, each client sending its next request once it has read the answer to the last. The
clients run in a process of their own, so that their work does not take the server's processor
time. Latency runs from the request sent to the answer's body read; req/s is the requests over
the scenario's wall time. Each scenario starts with a warm-up that is not counted.

    uv run python -m bench.catalog [--quick] [--database sqlite|URL] [--requests N]
                                   [--clients 1,4] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import logging
import multiprocessing
import os
import random
import socket
import tempfile
import time
import uuid
import warnings
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import uvicorn
import uvloop
from rich.console import Console
from rich.table import Table as RichTable
from sqlalchemy.engine import make_url

from bench.bus import machine, percentile, postgres_version, throwaway_postgres
from libs.kit.db import Database
from services.catalog.bootstrap import CatalogSettings
from services.catalog.domain import CATEGORIES
from services.catalog.main import create_app
from services.catalog.storefront import search
from services.catalog.tables import (
    CatalogTable,
    KnownHub,
    Product,
    ProductCategory,
    ProductVariant,
    Shop,
)

GOAL_P95_MS = 50.0
HUB = ("La Fabrique du Centre", "Lannion")
OTHER_HUBS = [("Le Grenier Partagé", "Paimpol"), ("La Cale", "Tréguier")]
SHOPS, PRODUCTS_PER_SHOP = 100, 50
OTHER_SHOPS = 10
WARMUP = 30

KINDS = {
    "boulangerie": ["Pain de campagne", "Baguette tradition", "Pain au levain", "Croissant",
                    "Pain au chocolat", "Brioche", "Kouign-amann", "Far breton", "Fougasse",
                    "Pain complet", "Crêpes", "Galettes de sarrasin"],
    "fromagerie": ["Fromage de chèvre", "Tomme", "Camembert", "Beurre demi-sel", "Crème fraîche",
                   "Yaourts", "Comté", "Brie", "Faisselle", "Lait entier", "Fromage blanc"],
    "epicerie": ["Pâté de campagne", "Rillettes", "Miel de fleurs", "Confiture de fraises",
                 "Huile d'olive", "Sel de Guérande", "Biscuits au beurre", "Chocolat noir",
                 "Café moulu", "Thé vert", "Caramel au beurre salé", "Sardines"],
    "fruits-et-legumes": ["Pommes", "Poires", "Tomates anciennes", "Carottes", "Poireaux",
                          "Pommes de terre", "Salade", "Courgettes", "Fraises", "Oignons",
                          "Choux-fleurs", "Artichauts"],
    "boucherie": ["Saucisses", "Côte de porc", "Jambon blanc", "Poulet fermier", "Steak haché",
                  "Andouille", "Boudin noir", "Rôti de veau", "Merguez", "Terrine de campagne"],
    "boissons": ["Cidre brut", "Jus de pomme", "Bière blonde", "Vin rouge", "Limonade",
                 "Chouchen", "Sirop de menthe", "Poiré", "Kombucha", "Eau pétillante"],
    "artisanat": ["Savon", "Bougie", "Bol en grès", "Sac en toile", "Carte postale",
                  "Panier en osier", "Torchon", "Bijou", "Affiche", "Planche à découper"],
}
TRADES = {"boulangerie": "Boulangerie", "fromagerie": "Fromagerie", "epicerie": "Épicerie",
          "fruits-et-legumes": "Primeur", "boucherie": "Boucherie", "boissons": "Cave",
          "artisanat": "Atelier"}
QUALIFIERS = ["bio", "fermier", "de saison", "artisanal", "du pays", "maison", "à l'ancienne",
              "extra", "fumé", "aux herbes", "sans gluten", "du Trégor", "de Bretagne", "nature"]
SURNAMES = ["Le Gall", "Le Goff", "Le Roux", "Guillou", "Morvan", "Le Bihan", "Tanguy",
            "Riou", "Jézéquel", "Le Meur", "Cloarec", "Quéré", "Kerboul", "Prigent", "Hamon"]
TAGS = ["bio", "local", "vegan", "sans gluten", "nouveau", "de saison"]
WEIGHTS = ["250 g", "500 g", "1 kg"]
QUERIES = ["fromage", "pain", "pâtés", "pommes", "bio", "miel", "cidre", "chèvre fermier",
           "confitures", "choco", "saucisses", "savons", "kombucha", "guérande", "beurre salé",
           "galettes sarrasin", "trompette"]

progress = Console(stderr=True)


# --- the data ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    hub_id: uuid.UUID
    shop_ids: list[uuid.UUID]
    products: int
    seconds: float


async def seed(url: str) -> Seeded:
    """The hub of the benchmark and two smaller ones, straight into the catalog's tables."""
    started = time.perf_counter()
    database = Database(url, CatalogTable.metadata)
    await database.start()
    draw = random.Random(2026)
    try:
        hub_id, shop_ids = await _hub(database, draw, HUB, SHOPS)
        for other in OTHER_HUBS:
            await _hub(database, draw, other, OTHER_SHOPS)
    finally:
        await database.stop()
    total = (SHOPS + OTHER_SHOPS * len(OTHER_HUBS)) * PRODUCTS_PER_SHOP
    return Seeded(hub_id, shop_ids, total, time.perf_counter() - started)


async def _hub(database: Database, draw: random.Random, hub: tuple[str, str],
               shops: int) -> tuple[uuid.UUID, list[uuid.UUID]]:
    hub_id = uuid.uuid4()
    shop_ids, product_ids = [], []
    async with database.sessions() as session, session.begin():
        session.add(KnownHub(id=hub_id, name=hub[0], town=hub[1]))
        trades = [list(KINDS)[number % len(KINDS)] for number in range(shops)]
        opened = [_shop(draw, hub_id, hub[1], number, trade) for number, trade in enumerate(trades)]
        session.add_all(opened)
        await session.flush()  # the shops first: nothing tells the session products need them
        for shop, trade in zip(opened, trades, strict=True):
            shop_ids.append(shop.id)
            for index in range(PRODUCTS_PER_SHOP):
                product, variants, categories = _product(draw, shop, trade, hub[1], index)
                session.add_all([product, *variants, *categories])
                product_ids.append(product.id)
        await search.reindex_products(session, product_ids)
    progress.log(f"seeded {hub[0]}: {shops} shops, {len(product_ids)} products")
    return hub_id, shop_ids


def _shop(draw: random.Random, hub_id: uuid.UUID, town: str, number: int, trade: str) -> Shop:
    name = f"{TRADES[trade]} {draw.choice(SURNAMES)}" + (f" {number}" if number >= 15 else "")
    owner_id = uuid.uuid4()
    return Shop(id=uuid.uuid4(), hub_id=hub_id, name=name, owner_id=owner_id,
                owner_email=f"{owner_id.hex[:8]}@{town.lower()}.test",
                opened_at=datetime.now(UTC) - timedelta(days=200))


def _product(draw: random.Random, shop: Shop, trade: str, town: str, index: int
             ) -> tuple[Product, list[ProductVariant], list[ProductCategory]]:
    """Mostly of the shop's trade, sometimes of another kind."""
    category = trade if draw.random() < 0.8 else draw.choice(list(KINDS))
    kind, qualifier = draw.choice(KINDS[category]), draw.choice(QUALIFIERS)
    name = f"{kind} {qualifier}"
    product = Product(
        id=uuid.uuid4(), shop_id=shop.id, name=name, search_name=name.lower(),
        description=f"{kind} {qualifier}, préparé à {town} par {shop.name}. "
                    f"{draw.choice(['Récolté', 'Fait', 'Choisi'])} avec soin, "
                    f"{draw.choice(['à déguster vite', 'se garde une semaine', 'idéal en cadeau'])}.",
        unit=draw.choice(["piece", "piece", "kg", "litre"]), vat_rate_bps=550,
        tags=draw.sample(TAGS, draw.choice([0, 0, 1, 2])),
        listed_at=datetime.now(UTC) - timedelta(minutes=draw.randrange(90 * 24 * 60)),
    )
    labels = WEIGHTS[:draw.choice([2, 3])] if draw.random() < 0.3 else [""]
    base = draw.randrange(80, 3000)
    variants = [
        ProductVariant(id=uuid.uuid4(), product_id=product.id, shop_id=shop.id, label=label,
                       sku=f"B{index:03}-{position}", price_cents=base * (position + 1),
                       on_hand=0 if draw.random() < 0.1 else draw.randrange(1, 50),
                       position=position)
        for position, label in enumerate(labels)
    ]
    return product, variants, [ProductCategory(product_id=product.id, category=category)]


# --- the server and its clients --------------------------------------------------------------


@contextlib.asynccontextmanager
async def served(settings: CatalogSettings) -> AsyncIterator[str]:
    """The catalog app behind uvicorn on a free port of 127.0.0.1, in this event loop."""
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning",
                                           access_log=False, lifespan="on"))
    serving = asyncio.create_task(server.serve(sockets=[listening]))
    while not server.started:
        if serving.done():
            serving.result()
            raise RuntimeError("the catalog app did not start")
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving
        listening.close()


@dataclass(frozen=True)
class Scenario:
    name: str
    paths: list[str]  # sent in turn, round and round


def scenarios(seeded: Seeded) -> list[Scenario]:
    hub = seeded.hub_id
    api = f"/catalog/api/v1/products?hub_id={hub}&limit=20"
    categories = itertools.cycle(CATEGORIES)
    pages = range(0, SHOPS * PRODUCTS_PER_SHOP, 20)
    return [
        Scenario("hub page", [f"/catalog/hubs/{hub}"]),
        Scenario("hub page, search", [f"/catalog/hubs/{hub}?q={q}" for q in QUERIES]),
        Scenario("API search", [f"{api}&q={q}" for q in QUERIES]),
        Scenario("API search, filtered and sorted",
                 [f"{api}&q={q}&category={next(categories)}&in_stock=true&sort=price_asc"
                  for q in QUERIES]),
        Scenario("API list, newest, any page",
                 [f"{api}&sort=newest&offset={offset}" for offset in pages]),
        Scenario("shop window", [f"/catalog/shops/{shop}/vitrine" for shop in seeded.shop_ids]),
    ]


async def measure(clients_process: ProcessPoolExecutor, base_url: str, scenario: Scenario,
                  requests: int, clients: int) -> dict:
    """The scenario's figures; its requests are sent from ``clients_process``, so that the
    clients' work does not take the server's processor time."""
    cpu_before = time.process_time()
    latencies, elapsed = await asyncio.get_running_loop().run_in_executor(
        clients_process, send, base_url, scenario.paths, requests, clients)
    # This process's processor time (the server, its database threads) over the scenario,
    # warm-up included: what a request costs, whatever else the machine is doing.
    cpu_ms = (time.process_time() - cpu_before) * 1000 / (requests + WARMUP)
    return {"scenario": scenario.name, "requests": requests, "clients": clients,
            "req_per_s": round(requests / elapsed, 1), "server_cpu_ms": round(cpu_ms, 2),
            "p50_ms": round(percentile(latencies, 0.50), 1),
            "p95_ms": round(percentile(latencies, 0.95), 1),
            "p99_ms": round(percentile(latencies, 0.99), 1),
            "max_ms": round(max(latencies), 1)}


def send(base_url: str, paths: list[str], requests: int, clients: int) -> tuple[list[float], float]:
    """In the clients' process: the warm-up, then ``requests`` requests; their latencies (ms)
    and the seconds they took in all."""
    return uvloop.run(_send(base_url, paths, requests, clients))


async def _send(base_url: str, paths: list[str], requests: int, clients: int
                ) -> tuple[list[float], float]:
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:
        await _load(client, itertools.islice(itertools.cycle(paths), WARMUP), clients)
        started = time.perf_counter()
        latencies = await _load(client, itertools.islice(itertools.cycle(paths), requests), clients)
        return latencies, time.perf_counter() - started


async def _load(client: httpx.AsyncClient, paths: Iterator[str], clients: int) -> list[float]:
    latencies: list[float] = []

    async def one_client() -> None:
        for path in paths:  # shared: each path is sent once, by whichever client is free
            began = time.perf_counter()
            answer = await client.get(path)
            latencies.append((time.perf_counter() - began) * 1000)
            if answer.status_code != 200:
                raise RuntimeError(f"{path}: {answer.status_code} {answer.text[:200]}")

    await asyncio.gather(*(one_client() for _ in range(clients)))
    return latencies


# --- the run -------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def database_url(option: str, workdir: Path) -> AsyncIterator[str]:
    if option == "sqlite":
        yield f"sqlite+aiosqlite:///{workdir / 'catalog.sqlite3'}"
    else:
        async with throwaway_postgres(option) as url:
            yield url


async def run(options: argparse.Namespace, workdir: Path) -> tuple[Seeded, list[dict]]:
    async with database_url(options.database, workdir) as url:
        seeded = await seed(url)
        progress.log(f"seeded {seeded.products:,} products in {seeded.seconds:.1f}s")
        settings = CatalogSettings(data_dir=workdir, database_url=url, outbox_relay=False,
                                   log_level="WARNING")
        results = []
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as process:
            async with served(settings) as base_url:
                for scenario in scenarios(seeded):
                    for clients in options.clients:
                        progress.log(f"{scenario.name}: {options.requests} requests, "
                                     f"{clients} client(s)")
                        results.append(await measure(process, base_url, scenario,
                                                     options.requests, clients))
    return seeded, results


def report(console: Console, env: dict, seeded: Seeded, options: argparse.Namespace,
           results: list[dict]) -> None:
    info = RichTable(title="Machine", show_header=False)
    for key, value in env.items():
        info.add_row(key, str(value))
    console.print(info)
    figures = RichTable(title=f"The catalog over HTTP: a hub of {SHOPS} shops and "
                              f"{SHOPS * PRODUCTS_PER_SHOP:,} products ({env['date']})")
    for column in ("scenario", "clients", "req/s", "server CPU ms/req", "p50 ms", "p95 ms",
                   "p99 ms", "max ms", f"p95 < {GOAL_P95_MS:g} ms"):
        figures.add_column(column, justify="left" if column == "scenario" else "right")
    for r in results:
        figures.add_row(r["scenario"], str(r["clients"]), f"{r['req_per_s']:,}",
                        f"{r['server_cpu_ms']:.2f}", f"{r['p50_ms']:.1f}",
                        f"{r['p95_ms']:.1f}", f"{r['p99_ms']:.1f}", f"{r['max_ms']:.1f}",
                        "yes" if r["p95_ms"] < GOAL_P95_MS else "NO")
    console.print(figures)
    console.print(
        f"{options.requests} requests per scenario and count of concurrent clients "
        f"(keep-alive, in a process of their own), after {WARMUP} warm-up requests; "
        f"{seeded.products:,} products in all ({len(OTHER_HUBS)} smaller hubs beside), seeded in "
        f"{seeded.seconds:.1f}s; database: {env['database']}; the server: uvicorn and uvloop, "
        "one process."
    )


def _counts(text: str) -> list[int]:
    return [int(count) for count in text.split(",")]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.catalog",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, help="requests per scenario (500; quick 100)")
    parser.add_argument("--clients", type=_counts, default=[1, 4],
                        help="concurrent clients, one run of each scenario per count (1,4)")
    parser.add_argument("--database", default="sqlite",
                        help="'sqlite' or a PostgreSQL server URL: the bench makes a database "
                             "of its own there and drops it afterwards (sqlite)")
    parser.add_argument("--quick", action="store_true", help="fewer requests per scenario")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    options = parser.parse_args(argv)
    options.requests = options.requests or (100 if options.quick else 500)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    # As in the service: Core statements go through AsyncSession.execute on purpose.
    warnings.filterwarnings("ignore", r"(?s).*session\.exec", DeprecationWarning)

    env = {"date": datetime.now(UTC).date().isoformat(), **machine()}
    env.pop("aiokafka")
    env["database"] = "SQLite (a file)" if options.database == "sqlite" else (
        f"PostgreSQL {asyncio.run(postgres_version(options.database))} at "
        f"{make_url(options.database).render_as_string(hide_password=True)}")
    with tempfile.TemporaryDirectory(prefix="bench-catalog-") as workdir:
        seeded, results = uvloop.run(run(options, Path(workdir)))
    env["load_avg_1m_at_end"] = round(os.getloadavg()[0], 2)  # others' work shows in latency
    console = Console()
    console.width = max(console.width, 140)  # rich assumes 80 columns when piped
    report(console, env, seeded, options, results)
    if options.json:
        options.json.write_text(json.dumps({"machine": env, "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
