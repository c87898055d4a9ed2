"""``adopte dlq``: the dead letters of the deployment's bus, read and replayed."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from libs.messaging.dead_letters import DeadLetter, DeadLetterDesk, DeadLetterError, Entry

app = typer.Typer(help="Dead letters: the records a service gave up on (<topic>.dlq), read and "
                       "replayed.", no_args_is_help=True)

KafkaOption = Annotated[str | None, typer.Option(
    help="host:port of the Kafka cluster (default: ADOPTE_KAFKA_BOOTSTRAP_SERVERS when "
         "ADOPTE_BUS=kafka, else the embedded bus of the data dir).")]
DataDirOption = Annotated[Path | None, typer.Option(
    help="The data dir of `adopte dev`, whose bus.sqlite3 to read (default: ADOPTE_DATA_DIR or "
         "./var).")]
TimeoutOption = Annotated[float, typer.Option(help="Seconds to wait for Kafka to answer.")]
TopicOption = Annotated[str | None, typer.Option(
    help="Only this topic's dead letters (the origin topic, or its .dlq).")]

T = TypeVar("T")


def _open_log(kafka: str | None, data_dir: Path | None, timeout: float):
    from libs.kit.settings import ServiceSettings
    from libs.messaging.dead_letter_logs import EmbeddedDeadLetterLog, KafkaDeadLetterLog

    if kafka is None and data_dir is None:
        settings = ServiceSettings()
        if settings.bus == "kafka":
            kafka = settings.kafka_bootstrap_servers
        else:
            data_dir = settings.data_dir
    if kafka is not None:
        return KafkaDeadLetterLog(kafka, timeout_s=timeout)
    return EmbeddedDeadLetterLog((data_dir / "bus.sqlite3").resolve())


def _at_desk(kafka: str | None, data_dir: Path | None, timeout: float,
             work: Callable[[DeadLetterDesk], Awaitable[T]]) -> T:
    """Runs ``work`` on the bus; a refusal or an unreachable bus ends the command, exit 1."""

    async def run() -> T:
        log = _open_log(kafka, data_dir, timeout)
        try:
            return await work(DeadLetterDesk(log))
        finally:
            await log.close()

    try:
        return asyncio.run(run())
    except DeadLetterError as exc:
        _errors().print(str(exc), style="red", markup=False, highlight=False)
        raise typer.Exit(1) from None


def _errors() -> Console:
    return Console(stderr=True, soft_wrap=True)


@app.command("list")
def list_letters(
    topic: TopicOption = None,
    pending: Annotated[bool, typer.Option("--pending", help="Only those not replayed yet.")
                       ] = False,
    kafka: KafkaOption = None,
    data_dir: DataDirOption = None,
    timeout: TimeoutOption = 10.0,
) -> None:
    """Every dead letter, oldest first: where it came from, which group gave up, why."""
    entries = _at_desk(kafka, data_dir, timeout, lambda desk: desk.entries(topic))
    if pending:
        entries = [entry for entry in entries if entry.mark is None]
    if not entries:
        _errors().print("no dead letters" + (f" in {topic}" if topic else ""), markup=False,
                        highlight=False)
        return
    table = Table()
    for column, wraps in (("id", False), ("dead-lettered (UTC)", False), ("origin topic", True),
                          ("group", True), ("event", True), ("error", False), ("reason", True),
                          ("replayed", False)):
        table.add_column(column, no_wrap=not wraps, overflow="fold")
    for entry in entries:
        letter = entry.letter
        table.add_row(letter.id, f"{letter.dead_at:%Y-%m-%d %H:%M:%S}", letter.origin_topic,
                      letter.group, letter.event_type or "(unreadable)", letter.error_type,
                      letter.short_reason, _replayed(entry))
    # Piped into grep or a file, a row stays on one line however wide.
    console = Console() if sys.stdout.isatty() else Console(width=1000)
    console.print(table, markup=False, highlight=False)


@app.command("show")
def show_letter(
    letter_id: Annotated[str, typer.Argument(metavar="ID", help="<topic>.dlq:<partition>:<offset>, "
                                                                "as `adopte dlq list` shows it.")],
    kafka: KafkaOption = None,
    data_dir: DataDirOption = None,
    timeout: TimeoutOption = 10.0,
) -> None:
    """Everything about one dead letter: headers, error, trace, and its value."""
    entry = _at_desk(kafka, data_dir, timeout, lambda desk: desk.entry(letter_id))
    console = Console(soft_wrap=True)
    for label, value in _facts(entry):
        console.print(f"{label + ':':<16}{value}", markup=False, highlight=False)
    letter = entry.letter
    if letter.other_headers:
        console.print("headers:", markup=False, highlight=False)
        for name, value in letter.other_headers:
            console.print(f"  {name}: {value.decode('utf-8', 'replace')}", markup=False,
                          highlight=False)
    console.print("error:", markup=False, highlight=False)
    console.print("  " + letter.error, markup=False, highlight=False)
    console.print("trace:", markup=False, highlight=False)
    console.print(letter.trace.rstrip(), markup=False, highlight=False)
    console.print("value:", markup=False, highlight=False)
    console.print(_value_text(letter), markup=False, highlight=False)


def _facts(entry: Entry) -> list[tuple[str, Any]]:
    letter = entry.letter
    return [("id", letter.id), ("dead-lettered", f"{letter.dead_at:%Y-%m-%d %H:%M:%S.%f} UTC"),
            ("origin", letter.origin), ("key", letter.record.key), ("group", letter.group),
            ("attempts", letter.attempts), ("event", letter.event_type or "(unreadable)"),
            ("error type", letter.error_type), ("reason", letter.reason),
            ("replayed", _replayed(entry))]


def _replayed(entry: Entry) -> str:
    return f"{entry.mark.replayed_at:%Y-%m-%d %H:%M:%S}" if entry.mark else "no"


def _value_text(letter: DeadLetter) -> str:
    envelope = letter.envelope()
    if envelope is not None:
        return json.dumps(envelope, indent=2, ensure_ascii=False)
    return letter.record.value.decode("utf-8", "backslashreplace")


@app.command("replay")
def replay_letters(
    letter_id: Annotated[str | None, typer.Argument(metavar="[ID]", help="The dead letter to "
                                                                         "replay.")] = None,
    all_letters: Annotated[bool, typer.Option("--all", help="Every dead letter not replayed yet "
                                                            "(of --topic).")] = False,
    topic: TopicOption = None,
    kafka: KafkaOption = None,
    data_dir: DataDirOption = None,
    timeout: TimeoutOption = 10.0,
) -> None:
    """Publish dead letters again to the topic they came from (after fixing what made them
    fail); each is marked replayed and is not replayed twice."""
    if (letter_id is None) == (not all_letters):
        raise typer.BadParameter("give one dead letter's ID, or --all", param_hint="ID")
    if letter_id is not None and topic is not None:
        raise typer.BadParameter("--topic goes with --all", param_hint="--topic")
    if letter_id is not None:
        replayed = [_at_desk(kafka, data_dir, timeout, lambda desk: desk.replay_one(letter_id))]
    else:
        replayed = _at_desk(kafka, data_dir, timeout, lambda desk: desk.replay_pending(topic))
    if not replayed:
        _errors().print("nothing to replay" + (f" in {topic}" if topic else ""), markup=False,
                        highlight=False)
        return
    for letter in replayed:
        typer.echo(f"replayed {letter.id} to {letter.origin_topic}")
