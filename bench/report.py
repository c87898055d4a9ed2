"""The benchmark's figures as results.json, report.md and SVG charts, with issue 8's goals."""

from __future__ import annotations

import json
from pathlib import Path

from bench.charts import line_chart

BUSY_LOAD = 1.5  # 1-minute load average on the 2-core machine above which figures are not clean
RUNTIME_NAMES = {"embedded": "embedded (one process, SQLite)",
                 "distributed": "distributed (a process per service, Kafka, PostgreSQL)"}


def _fmt(value, unit: str = "") -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        value = f"{value:,.1f}" if abs(value) < 1000 else f"{value:,.0f}"
    elif isinstance(value, int):
        value = f"{value:,}"
    return f"{value}{unit}"


def goals(results: dict) -> list[dict]:
    """Issue 8's goals, each with what this run measured; a quick run's, or one on a busy
    machine, is said so beside its pass or fail."""
    runtimes = results.get("runtimes", {})
    caveat = ("quick mode" if results.get("mode") == "quick"
              else "busy machine" if results["machine"]["load_avg_1m_at_start"] > BUSY_LOAD
              else None)

    def _goal(goal: str, target: str, measured, passed: bool | None) -> dict:
        status = "not measured" if passed is None else "pass" if passed else "fail"
        if caveat and passed is not None:
            status += f" ({caveat}: not a measurement)"
        return {"goal": goal, "target": target, "measured": measured, "status": status}

    rows = []
    for name, figures in runtimes.items():
        at_100 = next((r for r in figures.get("saga", []) if r["rate"] == 100.0), None)
        p99 = at_100["confirmed"]["p99_ms"] if at_100 else None
        rows.append(_goal(f"checkout → confirmed p99 at 100 orders/s, {name}", "< 250 ms",
                          _fmt(p99, " ms"), None if p99 is None else p99 < 250))
    for name, floor in (("distributed", 300.0), ("embedded", 200.0)):
        held = runtimes.get(name, {}).get("max_held_rate")
        rows.append(_goal(f"orders/s held 60 s without lag growing, {name}", f">= {floor:g}",
                          _fmt(held, "/s"), None if held is None else held >= floor))
    for name, figures in runtimes.items():
        page = figures.get("hub", {}).get("hub page")
        p95 = page["p95_at_first_rate_ms"] if page else None
        rows.append(_goal(f"hub page p95 (at {page['steps'][0]['rate']:g} req/s), {name}"
                          if page else f"hub page p95, {name}", "< 50 ms", _fmt(p95, " ms"),
                          None if p95 is None else p95 < 50))
        share = page.get("share_of_bare") if page else None
        rows.append(_goal(f"hub page req/s against the bare endpoint's, {name}", ">= 30 %",
                          None if share is None else f"{share * 100:.0f} %",
                          None if share is None else share >= 0.30))
    for name, figures in runtimes.items():
        for sql in figures.get("sql", []):
            rows.append(_goal(f"SQL statements per checkout at {sql['rate']:g} orders/s, all "
                              f"services, {name}", "<= 25", _fmt(sql["total"]),
                              sql["total"] <= 25))
    return rows


def write(results: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    charts = _charts(results, out)
    (out / "report.md").write_text(markdown(results, charts))


def _charts(results: dict, out: Path) -> list[tuple[str, str]]:
    """(title, file name) of each chart written."""
    written = []
    runtimes = results.get("runtimes", {})
    for step, label in (("confirmed", "placing → confirmed"),
                        ("scheduled", "placing → pickup scheduled")):
        series = [(f"{name} {q}", [(r["rate"], r[step][f"{q}_ms"]) for r in figures["saga"]])
                  for name, figures in runtimes.items() if figures.get("saga")
                  for q in ("p50", "p95", "p99")]
        if series:
            title = f"Checkout, {label}: latency against rate"
            (out / f"saga_{step}.svg").write_text(
                line_chart(title, "orders/s", "ms", series))
            written.append((title, f"saga_{step}.svg"))
    for name, figures in runtimes.items():
        if figures.get("hub"):
            series = [(f"{target} {q}", [(s["rate"], s[f"{q}_ms"]) for s in climb["steps"]])
                      for target, climb in figures["hub"].items() for q in ("p50", "p95")]
            title = f"Hub page, search and bare endpoint, {name}: latency against rate"
            (out / f"hub_{name}.svg").write_text(line_chart(title, "req/s", "ms", series))
            written.append((title, f"hub_{name}.svg"))
    return written


def machine_line(results: dict) -> str:
    m = results["machine"]
    return (f"{m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM, {m['os']}, "
            f"Python {m['python']}" + (f", Kafka {m['kafka']}" if m.get("kafka") else "")
            + (f", PostgreSQL {m['postgresql']}" if m.get("postgresql") else ""))


def goals_table(results: dict) -> list[str]:
    lines = ["| goal | target | measured | status |", "|---|---|---:|---|"]
    lines += [f"| {g['goal']} | {g['target']} | {g['measured'] or '–'} | {g['status']} |"
              for g in results["goals"]]
    return lines


def markdown(results: dict, charts: list[tuple[str, str]]) -> str:
    settings = results["settings"]
    lines = [f"# Benchmark, {results['date']} ({results['mode']} mode)", "",
             f"Machine: {machine_line(results)}. 1-minute load average "
             f"{results['machine']['load_avg_1m_at_start']} at the start, "
             f"{results['load_avg_1m_at_end']} at the end; the run took "
             f"{results['seconds']:.0f} s.", ""]
    if results["mode"] == "quick":
        lines += ["**Quick mode: a smoke run of the harness (tiny network, one low rate, a few "
                  "seconds per step). Its figures say nothing about the goals.**", ""]
    if results["machine"]["load_avg_1m_at_start"] > BUSY_LOAD:
        lines += ["**The machine was busy with other work (load average above 1.5 on 2 "
                  "cores): the figures are not a measurement of the code alone.**", ""]
    lines += ["## Goals (issue 8)", "", *goals_table(results), "",
              "What was changed to get there, and what each change was worth: "
              "docs/benchmarks.md, *Tuning*.", ""]
    for name, figures in results.get("runtimes", {}).items():
        lines += [f"## {RUNTIME_NAMES[name]}", ""]
        if "seed" in figures:
            s = figures["seed"]
            lines += [f"Seeded {s['hubs']} hubs, {s['shops']:,} shops, {s['products']:,} "
                      f"products straight into the catalog's database in {s['seconds']} s.", ""]
        lines += _hub_section(figures.get("hub"), settings)
        lines += _saga_section(figures, settings)
        lines += _sql_section(figures.get("sql"))
        lines += _memory_section(figures.get("memory"))
    lines += _hop_section(results.get("hop"))
    if charts:
        lines += ["## Charts", ""] + [f"![{title}]({file})" for title, file in charts] + [""]
    lines += ["## How it is measured", "", "See docs/benchmarks.md, *The whole benchmark*.", ""]
    return "\n".join(lines)


def _hub_section(hub: dict | None, settings: dict) -> list[str]:
    if not hub:
        return []
    lines = ["### Hub page and search, beside a bare endpoint", "",
             f"Open-loop at rising rates (×1.5), {settings['hub_ladder']['step_s']:g} s a step, "
             f"until p95 > {settings['p95_bound_ms']:g} ms, an error, or under 95 % of the rate "
             f"answered, then {settings['hub_ladder'].get('refinements', 0)} steps halving the gap "
             "between the last rate passed and the first failed. The constant page is one of the "
             "hub page's size behind the services' middleware, logging as they do: what a page "
             "costs before any work of its own, in a process of its own.", "",
             "| target | sustained req/s | share of bare | p50 / p95 / p99 ms at the first rate | "
             "p95 ms at the sustained rate | bench process CPU ms/req there |",
             "|---|---:|---:|---|---:|---:|"]
    for target, climb in hub.items():
        first = climb["steps"][0]
        held = next((s for s in reversed(climb["steps"]) if s["passed"]), None)
        share = climb.get("share_of_bare")
        lines.append(
            f"| {target} | {_fmt(climb['sustained_rate'])}"
            f"{' (ladder top)' if climb['ceiling_reached'] else ''} | "
            f"{'–' if share is None else f'{share * 100:.0f} %'} | "
            f"{first['p50_ms']} / {first['p95_ms']} / {first['p99_ms']} | "
            f"{held['p95_ms'] if held else '–'} | "
            f"{held['client_cpu_ms_per_req'] if held else '–'} |")
    return lines + [""]


def _saga_section(figures: dict, settings: dict) -> list[str]:
    rows = figures.get("saga")
    if not rows:
        return []
    lines = ["### Checkout saga at fixed rates", "",
             f"Each rate for {settings['duration_s']:g} s; latency from each order's due time. "
             f"Highest rate held: **{_fmt(figures.get('max_held_rate'))} orders/s**.", "",
             "| orders/s | orders | POST p50 / p99 ms | confirmed p50 / p95 / p99 ms | "
             "pickup scheduled p50 / p95 / p99 ms | lag first → last third | "
             "CPU ms per order | held |",
             "|---:|---:|---|---|---|---|---:|---|"]
    for r in rows:
        c, s, p = r["confirmed"], r["scheduled"], r["placed"]
        held = "yes" if r["held"] else "no: " + "; ".join(r["why_not"])
        cpu = r.get("cpu_ms_per_order", {})
        lines.append(f"| {r['rate']:g} | {r['orders']:,} | {p['p50_ms']} / {p['p99_ms']} | "
                     f"{c['p50_ms']} / {c['p95_ms']} / {c['p99_ms']} | "
                     f"{s['p50_ms']} / {s['p95_ms']} / {s['p99_ms']} | "
                     f"{r['lag']['first_third_mean']:g} → {r['lag']['last_third_mean']:g} | "
                     f"{_fmt(round(sum(cpu.values()), 1)) if cpu else '–'} | {held} |")
    by_process = [r for r in rows if len(r.get("cpu_ms_per_order", {})) > 1]
    if by_process:
        names = list(by_process[0]["cpu_ms_per_order"])
        lines += ["", "CPU per order by process (ms; the service processes only, not Kafka "
                  "nor PostgreSQL):", "",
                  "| orders/s | " + " | ".join(names) + " |",
                  "|---:|" + "---:|" * len(names)]
        lines += [f"| {r['rate']:g} | " + " | ".join(
            _fmt(r["cpu_ms_per_order"].get(n)) for n in names) + " |" for r in by_process]
    lines.append("")
    if rows and "cpu_ms_per_order" in rows[0]:
        lines += ["CPU per order: what the service processes used over the rate's window and "
                  "its drain, divided by the orders scheduled.", ""]
    return lines


def _sql_section(measured: list[dict] | None) -> list[str]:
    if not measured:
        return []
    services = list(measured[0]["per_service"])
    lines = ["### SQL statements per checkout", "",
             "Counted with " + measured[0]["counted"] + "; each figure is a window of orders, "
             "less the idle rate measured just before over as long.", "",
             "| orders/s | orders | " + " | ".join(services) + " | all |",
             "|---:|---:|" + "---:|" * (len(services) + 1)]
    for sql in measured:
        lines.append(f"| {sql['rate']:g} | {sql['orders']} | "
                     + " | ".join(_fmt(sql["per_service"].get(s)) for s in services)
                     + f" | **{_fmt(sql['total'])}** |")
    return [*lines, ""]


def _memory_section(memory: dict | None) -> list[str]:
    if not memory:
        return []
    return ["### Memory (RSS) per process", "", "| process | peak MiB | at the end MiB |",
            "|---|---:|---:|",
            *(f"| {name} | {m['peak_mib']} | {m['rss_mib']} |" for name, m in memory.items()), ""]


def _hop_section(hop: dict | None) -> list[str]:
    if not hop:
        return []
    lines = ["## One event hop against raw aiokafka (bench/bus.py)", "",
             f"{hop['settings']['events']:,} events for throughput, "
             f"{hop['settings']['rate']:g} events/s for {hop['settings']['seconds']:g} s for "
             f"latency, KafkaBus path on {hop['settings']['database']}. Our hop costs "
             f"**{hop['latency_p50_ratio']}×** raw aiokafka's p50 latency and "
             f"**{hop['throughput_ratio']}×** its throughput.", "",
             "| path | events/s | latency p50 / p99 / max ms |", "|---|---:|---|"]
    for path in hop["paths"]:
        t, lat = path["throughput"], path["latency"]
        lines.append(f"| {path['label']} | {t['events_per_s']:,} | "
                     f"{lat['p50_ms']} / {lat['p99_ms']} / {lat['max_ms']} |")
    return lines + [""]
