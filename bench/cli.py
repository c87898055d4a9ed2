"""`adopte bench` (and `python -m bench`): issue 8's benchmark, every section, both runtimes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(add_completion=False)


def _names(value: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in value.split(",") if name.strip())


@app.callback(invoke_without_command=True)
def bench(
    quick: Annotated[bool, typer.Option("--quick", help="A smoke run under 2 minutes: tiny "
                                                        "network, one low rate, short steps.")
                     ] = False,
    only: Annotated[str, typer.Option(help="Sections: hub, saga, sql, memory, hop.")
                    ] = "hub,saga,sql,memory,hop",
    runtime: Annotated[str, typer.Option(help="embedded, distributed or both.")] = "both",
    rates: Annotated[str | None, typer.Option(help="Checkout rates, orders/s (default "
                                                   "10,20,50,100,200,300,400,500; quick: 10).")
                     ] = None,
    duration: Annotated[float | None, typer.Option(help="Seconds per checkout rate (60; quick 4).")
                        ] = None,
    out: Annotated[Path | None, typer.Option(help="Where report.md, results.json and the charts "
                                                  "go (default bench/results/<UTC date>).")
                   ] = None,
    kafka: Annotated[str | None, typer.Option(help="HOST:PORT of a broker (default: one of the "
                                                   "bench's own from deploy/local/kafka.sh, "
                                                   "port 29092).")] = None,
    postgres: Annotated[str | None, typer.Option(help="URL of a PostgreSQL server the bench may "
                                                      "create databases on (default: "
                                                      "ADOPTE_TEST_DATABASE_URL, else "
                                                      "deploy/local/postgres.sh).")] = None,
) -> None:
    """Seed a network of hubs, then measure: the hub page and search beside a bare endpoint,
    the checkout saga at fixed rates, SQL statements per checkout, memory per process, and one
    event hop against raw aiokafka. Writes report.md, results.json and SVG charts."""
    from bench.run import RUNTIMES, Options, default_out, run

    try:
        options = Options(quick=quick, only=_names(only),
                          runtimes=RUNTIMES if runtime == "both" else _names(runtime),
                          rates=[float(r) for r in _names(rates)] if rates else None,
                          duration=duration, out=out or default_out(), kafka=kafka,
                          postgres=postgres)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    run(options)


def main() -> None:
    app(prog_name="python -m bench")
