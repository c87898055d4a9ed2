"""What the fault matrix reads of a deployment once the faults are over, straight from the
services' databases and from Kafka: whether everything was handled (lag, outbox), each order's
state in every service, the stock, the money, a snapshot of every business table, and the
consumer groups' offsets (read, and set back to the start for the replay)."""

from __future__ import annotations

import contextlib
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from libs.messaging.port import DLQ_SUFFIX
from services.host import service_bootstrap
from tests.support.services import asyncpg_dsn

TERMINAL = {"completed", "rejected", "cancelled", "no_show"}
UNDONE = {"rejected", "cancelled"}
# Waiting on a person: the shops to drop their parts off, the resident to collect.
AWAITING_PERSON = {"confirmed", "ready"}
# Bookkeeping, not business state: a replay may add to it (or prune it) without changing anything.
BOOKKEEPING = {"inbox", "outbox", "alembic_version"}


def consumer_groups(services: list[str]) -> dict[str, list[str]]:
    """Each service's consumer group and the topics it reads."""
    groups = {}
    for name in services:
        definition = service_bootstrap(name).SERVICE
        if definition.subscriptions:
            groups[definition.group] = definition.subscribed_topics()
    return groups


class Stores:
    """The deployment's databases (one per service) and its broker."""

    def __init__(self, urls: dict[str, str], bootstrap: str, services: list[str]) -> None:
        self.dsns = {service: asyncpg_dsn(url) for service, url in urls.items()}
        self.bootstrap = bootstrap
        self.groups = consumer_groups(services)
        self._records_when_drained: int | None = None

    @contextlib.asynccontextmanager
    async def connection(self, service: str) -> AsyncIterator[asyncpg.Connection]:
        connection = await asyncpg.connect(self.dsns[service], timeout=30)
        try:
            yield connection
        finally:
            await connection.close()

    async def rows(self, service: str, query: str, *args) -> list[asyncpg.Record]:
        async with self.connection(service) as connection:
            return await connection.fetch(query, *args)

    async def value(self, service: str, query: str, *args):
        async with self.connection(service) as connection:
            return await connection.fetchval(query, *args)

    # --- Kafka ---------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _kafka(self) -> AsyncIterator[tuple[AIOKafkaConsumer, AIOKafkaAdminClient]]:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None,
                                    enable_auto_commit=False)
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await consumer.start()
        try:
            await admin.start()
            try:
                yield consumer, admin
            finally:
                await admin.close()
        finally:
            await consumer.stop()

    @staticmethod
    async def _partitions(admin: AIOKafkaAdminClient, topics: list[str]) -> list[TopicPartition]:
        if not topics:
            return []
        described = {t["topic"]: t for t in await admin.describe_topics(topics)}
        missing = [t for t in topics if t not in described or not described[t]["partitions"]]
        if missing:
            raise RuntimeError(f"topics without partitions: {missing}")
        return [TopicPartition(topic, p["partition"]) for topic in topics
                for p in sorted(described[topic]["partitions"], key=lambda p: p["partition"])]

    async def lags(self) -> dict[str, int]:
        """Records of its topics each group has not committed yet."""
        return (await self._offsets())[0]

    async def _offsets(self) -> tuple[dict[str, int], int]:
        """Each group's lag, and the records its topics hold in all."""
        lags, records = {}, 0
        async with self._kafka() as (consumer, admin):
            for group, topics in self.groups.items():
                partitions = await self._partitions(admin, topics)
                ends = await consumer.end_offsets(partitions)
                starts = await consumer.beginning_offsets(partitions)
                committed = await admin.list_consumer_group_offsets(group, partitions=partitions)
                lags[group] = sum(
                    ends[tp] - (committed[tp].offset if tp in committed and committed[tp].offset >= 0
                                else starts[tp])
                    for tp in partitions)
                records += sum(ends.values())
        return lags, records

    async def dead_letters(self) -> dict[str, int]:
        """Records in each dead-letter topic that has any."""
        async with self._kafka() as (consumer, admin):
            topics = sorted(t for t in await consumer.topics() if t.endswith(DLQ_SUFFIX))
            partitions = await self._partitions(admin, topics)
            ends = await consumer.end_offsets(partitions)
            starts = await consumer.beginning_offsets(partitions)
        counts: Counter[str] = Counter()
        for tp in partitions:
            counts[tp.topic] += ends[tp] - starts[tp]
        return {topic: count for topic, count in counts.items() if count}

    async def rewind_groups(self) -> dict[str, int]:
        """Commits, for every group, the first offset of every partition of its topics: the
        next consumer of the group reads everything again. Only while no member is running.
        Returns the records each group will read again."""
        rewound = {}
        for group, topics in self.groups.items():
            async with self._kafka() as (_, admin):
                partitions = await self._partitions(admin, topics)
            consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=group,
                                        enable_auto_commit=False)
            await consumer.start()
            try:
                consumer.assign(partitions)
                starts = await consumer.beginning_offsets(partitions)
                ends = await consumer.end_offsets(partitions)
                await consumer.commit(starts)
                rewound[group] = sum(ends[tp] - starts[tp] for tp in partitions)
            finally:
                await consumer.stop()
        return rewound

    # --- databases -----------------------------------------------------------------------------

    async def unpublished(self) -> dict[str, int]:
        """Outbox rows committed and not yet on the bus, per service."""
        counts = {}
        for service in self.dsns:
            counts[service] = await self.value(
                service, "select count(*) from outbox where published_at is null")
        return counts

    async def drained(self) -> bool:
        """Nothing left to do on the bus, twice in a row with no record published in between:
        every group at the end of its topics, every outbox published. (Once only could be an
        instant between a handler's commit and the publishing of the events it wrote.)"""
        lags, records = await self._offsets()
        done = not any(lags.values()) and not any((await self.unpublished()).values())
        settled = done and records == self._records_when_drained
        self._records_when_drained = records if done else None
        return settled

    async def snapshot(self) -> dict[str, dict[str, list[tuple]]]:
        """Every row of every business table of every service, sorted."""
        tables: dict[str, dict[str, list[tuple]]] = {}
        for service in self.dsns:
            async with self.connection(service) as connection:
                names = await connection.fetch(
                    "select table_name from information_schema.tables "
                    "where table_schema = 'public' and table_type = 'BASE TABLE'")
                for (name,) in names:
                    if name in BOOKKEEPING:
                        continue
                    rows = await connection.fetch(f'select * from "{name}"')
                    tables.setdefault(service, {})[name] = sorted(
                        tuple(repr(value) for value in row.values()) for row in rows)
        return tables


def snapshot_differences(before: dict, after: dict) -> list[str]:
    """One line per table whose rows differ, with a row of each side as an example."""
    lines = []
    for service in sorted(set(before) | set(after)):
        old, new = before.get(service, {}), after.get(service, {})
        for table in sorted(set(old) | set(new)):
            gone = sorted(set(old.get(table, [])) - set(new.get(table, [])))
            came = sorted(set(new.get(table, [])) - set(old.get(table, [])))
            if gone or came:
                lines.append(f"{service}.{table}: {len(gone)} rows gone, {len(came)} rows new "
                             f"(e.g. {gone[:1]} -> {came[:1]})")
    return lines


# --- the checks ----------------------------------------------------------------------------------


@dataclass
class Findings:
    figures: dict = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def check(self, holds: bool, problem: str) -> None:
        if not holds:
            self.problems.append(problem)


def settled(order: asyncpg.Record) -> bool:
    """Terminal, or waiting on a person with everything the saga owes it done."""
    return order["status"] in TERMINAL or (order["status"] in AWAITING_PERSON
                                           and order["pickup_code"] is not None)


async def orders(stores: Stores) -> dict[str, asyncpg.Record]:
    return {str(row["id"]): row for row in await stores.rows(
        "order", "select id, status, pickup_code, pay_by, total_cents, placed_at from orders")}


async def unsettled(stores: Stores, accepted: set[str]) -> list[str]:
    """The accepted orders missing or not settled, and the other orders (those whose answer the
    client never got) not settled."""
    known = await orders(stores)
    return sorted(order_id for order_id in accepted | set(known)
                  if order_id not in known or not settled(known[order_id]))


async def check_orders(stores: Stores, accepted: set[str], findings: Findings) -> None:
    """No accepted order lost: each one is in the order service's database. Every order there
    settled, those accepted and those whose answer never reached the client alike."""
    known = await orders(stores)
    lost = sorted(accepted - set(known))
    stuck = sorted(o for o in known if not settled(known[o]))
    findings.figures["orders_by_status"] = dict(sorted(Counter(
        str(known[o]["status"]) for o in accepted & set(known)).items()))
    findings.figures["orders_in_database"] = len(known)
    findings.figures["orders_placed_but_unanswered"] = len(set(known) - accepted)
    findings.figures["accepted_orders_lost"] = len(lost)
    findings.figures["accepted_orders_stuck"] = len(stuck)
    findings.check(not lost, f"{len(lost)} accepted orders are not in the order database: {lost[:5]}")
    findings.check(not stuck, f"{len(stuck)} orders not settled: "
                              + ", ".join(f"{o} {known[o]['status']}" for o in stuck[:5]))


async def check_stock(stores: Stores, initial: dict[str, int], findings: Findings) -> None:
    """Per variant: never below zero, and what is free is the initial stock less what orders
    took plus what was released (sold units leave the shelf, held ones are reserved)."""
    variants = {str(r["id"]): r for r in await stores.rows(
        "catalog", "select id, on_hand, reserved from product_variants")}
    taken: dict[str, Counter] = defaultdict(Counter)
    for row in await stores.rows("catalog",
                                 "select variant_id, quantity, status from reservations"):
        taken[str(row["variant_id"])][row["status"]] += row["quantity"]
    wrong = []
    for variant_id, start in initial.items():
        row, by_status = variants[variant_id], taken[variant_id]
        free = row["on_hand"] - row["reserved"]
        expected = start - sum(by_status.values()) + by_status["released"]
        if (free < 0 or row["reserved"] < 0 or free != expected
                or row["reserved"] != by_status["reserved"]
                or row["on_hand"] != start - by_status["sold"]):
            wrong.append(f"{variant_id}: on hand {row['on_hand']}, reserved {row['reserved']}, "
                         f"reservations {dict(by_status)}, initial {start}")
    totals = Counter()
    for by_status in taken.values():
        totals.update(by_status)
    findings.figures["stock_units"] = {"reserved": totals["reserved"], "sold": totals["sold"],
                                       "released": totals["released"],
                                       "variants_checked": len(initial),
                                       "variants_wrong": len(wrong)}
    findings.check(not wrong, "stock not equal to initial - taken + released: " + "; ".join(wrong[:3]))


async def check_sagas(stores: Stores, findings: Findings) -> None:
    """Every order's state agrees across services: a confirmed order holds the stock of the
    parts its shops did not give up, its place in the slot, one successful payment less the
    refunds of the parts given up equal to its total, and the pickup code pickup made; an undone
    one holds none of them and its money, if any came in, went back."""
    known = await orders(stores)
    reservations: dict[str, Counter] = defaultdict(Counter)
    for row in await stores.rows("catalog", "select order_id, status, quantity from reservations"):
        reservations[str(row["order_id"])][row["status"]] += row["quantity"]
    ordered: Counter[str] = Counter()  # units still to supply: the parts not given up
    for row in await stores.rows(
            "order", "select l.order_id, l.quantity from order_lines l join order_parts p "
                     "on p.order_id = l.order_id and p.shop_id = l.shop_id "
                     "where p.status <> 'cancelled'"):
        ordered[str(row["order_id"])] += row["quantity"]
    bookings = {str(r["order_id"]): r["status"] for r in await stores.rows(
        "pickup", "select order_id, status from bookings")}
    pickups = {str(r["order_id"]): r for r in await stores.rows(
        "pickup", "select order_id, code, status from pickups")}
    payments = {str(r["order_id"]): r for r in await stores.rows(
        "payment", "select order_id, status, amount_cents, refunded_cents from payments "
                   "where order_id is not null")}
    wrong: list[str] = []
    for order_id, order in known.items():
        status, payment = order["status"], payments.get(order_id)
        if status in AWAITING_PERSON:
            if reservations[order_id]["reserved"] != ordered[order_id]:
                wrong.append(f"{order_id} {status}: reservations {dict(reservations[order_id])}")
            if bookings.get(order_id) != "held":
                wrong.append(f"{order_id} {status}: booking {bookings.get(order_id)}")
            if payment is None or payment["status"] != "succeeded" \
                    or payment["amount_cents"] - payment["refunded_cents"] != order["total_cents"]:
                wrong.append(f"{order_id} {status}: payment {payment and dict(payment)}")
            pickup = pickups.get(order_id)
            if pickup is None or pickup["code"] != order["pickup_code"]:
                wrong.append(f"{order_id} {status}: pickup {pickup and dict(pickup)}")
        elif status in UNDONE:
            if reservations[order_id]["reserved"]:
                wrong.append(f"{order_id} {status}: still reserved {dict(reservations[order_id])}")
            if bookings.get(order_id) == "held":
                wrong.append(f"{order_id} {status}: its place in the slot still held")
            if payment is not None and payment["status"] == "succeeded" \
                    and payment["refunded_cents"] != payment["amount_cents"]:
                wrong.append(f"{order_id} {status}: paid {payment['amount_cents']}, "
                             f"refunded {payment['refunded_cents']}")
    slots = await stores.rows("pickup", "select s.id, s.held, s.capacity, count(b.order_id) as "
                                        "booked from slots s left join bookings b on "
                                        "b.slot_id = s.id and b.status = 'held' group by s.id")
    wrong += [f"slot {r['id']}: held {r['held']} of {r['capacity']}, bookings {r['booked']}"
              for r in slots if r["held"] != r["booked"] or r["held"] > r["capacity"]]
    findings.figures["orders_inconsistent_across_services"] = len(wrong)
    findings.check(not wrong, f"{len(wrong)} inconsistencies across services: " + "; ".join(wrong[:5]))


async def check_money(stores: Stores, findings: Findings) -> None:
    """At most one successful payment per order, each movement once in the ledger, every
    transaction balanced, and the processor's account equal to the money the payment service
    says moved."""
    async with stores.connection("payment") as db:
        charged_twice = await db.fetch(
            "select order_id, count(*) from ledger_transactions where kind = 'payment' "
            "and order_id is not null group by order_id having count(*) > 1")
        payments_twice = await db.fetchval(
            "select count(*) from (select order_id from payments where status = 'succeeded' "
            "and order_id is not null group by order_id having count(*) > 1) twice")
        unbalanced = await db.fetchval(
            "select count(*) from (select transaction_id from ledger_postings "
            "group by transaction_id having sum(amount_cents) <> 0) wrong")
        total = await db.fetchval("select coalesce(sum(amount_cents), 0) from ledger_postings")
        processor = await db.fetchval("select coalesce(sum(amount_cents), 0) from "
                                      "ledger_postings where account = 'processor'")
        suspense = await db.fetchval("select coalesce(sum(amount_cents), 0) from "
                                     "ledger_postings where account = 'suspense'")
        moved = await db.fetchrow(
            "select (select coalesce(sum(amount_cents), 0) from payments "
            "        where status = 'succeeded') as paid,"
            " (select coalesce(sum(fee_cents), 0) from processor_fees) as fees,"
            " (select coalesce(sum(amount_cents), 0) from refunds where status = 'issued') "
            "   as refunded,"
            " (select coalesce(sum(amount_cents), 0) from transfers where status = 'made') "
            "   as transferred,"
            " (select coalesce(sum(amount_cents), 0) from transfer_reversals "
            "  where status = 'made') as reversed,"
            " (select count(*) from payments where status = 'succeeded') as succeeded,"
            " (select count(*) from ledger_transactions where kind = 'payment') as in_ledger,"
            " (select count(*) from payments where status = 'pending') as pending,"
            " (select count(*) from refunds where status = 'due') as refunds_due")
    expected = (moved["paid"] - moved["fees"] - moved["refunded"] - moved["transferred"]
                + moved["reversed"])
    findings.figures["money"] = {
        "payments_succeeded": moved["succeeded"], "payment_transactions_in_ledger":
            moved["in_ledger"], "orders_charged_twice": len(charged_twice) + payments_twice,
        "paid_cents": moved["paid"], "refunded_cents": moved["refunded"],
        "processor_balance_cents": int(processor), "ledger_sum_cents": int(total),
        "unbalanced_transactions": unbalanced, "payments_pending": moved["pending"],
        "refunds_due": moved["refunds_due"]}
    findings.check(not charged_twice and not payments_twice,
                   f"orders charged twice: {[str(r['order_id']) for r in charged_twice[:5]]}")
    findings.check(unbalanced == 0 and total == 0,
                   f"ledger unbalanced: {unbalanced} transactions, sum {total}")
    findings.check(processor == expected, f"processor account {processor} != {expected} moved")
    findings.check(suspense == 0, f"suspense account holds {suspense}")
    findings.check(moved["succeeded"] == moved["in_ledger"],
                   f"{moved['succeeded']} payments succeeded, {moved['in_ledger']} in the ledger")
    findings.check(moved["pending"] == 0 and moved["refunds_due"] == 0,
                   f"payments stuck: {moved['pending']} pending, {moved['refunds_due']} refunds due")
