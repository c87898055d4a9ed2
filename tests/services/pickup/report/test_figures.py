"""The report's figures against a seeded history (see conftest): the JSON, the CSV and the page
with its charts; on SQLite and PostgreSQL for the aggregation queries."""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ElementTree

import pytest

from tests.services.pickup.report.conftest import seed_history

PERIOD = "?from=2026-02&to=2026-04"
SVG = "{http://www.w3.org/2000/svg}"


def charts_of(page: str) -> dict[str, ElementTree.Element]:
    charts = [ElementTree.fromstring(svg) for svg in re.findall(r"<svg.*?</svg>", page, re.S)]
    return {chart.get("id"): chart for chart in charts}


def bar_heights(chart: ElementTree.Element) -> dict[str, float]:
    """Each column's key → the height of its stacked bars."""
    return {column.get("data-key"): sum(float(bar.get("height"))
                                        for bar in column.iter(f"{SVG}rect"))
            for column in chart.iter(f"{SVG}g") if column.get("class") == "column"}


@pytest.fixture
async def history_on_each_engine(pickup_on_each_engine):
    return await seed_history(pickup_on_each_engine)


async def test_the_report_holds_the_figures_of_the_seeded_history(pickup_on_each_engine,
                                                                  history_on_each_engine):
    history = history_on_each_engine
    response = await pickup_on_each_engine.client.get(history.report + PERIOD,
                                                      headers=history.admin)

    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["first_month"], report["last_month"], report["sales_counted_on"]) == (
        "2026-02", "2026-04", "completion")
    assert report["headline"] == {
        "sales_cents": 9000, "orders": 5, "buyers": 3, "new_buyers": 2, "members_gained": 3,
        "visits": 4, "no_shows": 1, "gatherings": 2, "sign_ups": 2, "attendance": 3}
    assert [(m["month"], m["orders"], m["sales_cents"], m["buyers"], m["new_buyers"],
             m["returning_buyers"], m["members_gained"]) for m in report["months"]] == [
        ("2026-02", 1, 4000, 1, 0, 1, 1),
        ("2026-03", 3, 4000, 2, 2, 0, 2),
        ("2026-04", 1, 1000, 1, 0, 1, 0)]
    assert [(m["visits"], m["no_shows"], m["gatherings"], m["sign_ups"], m["attendance"])
            for m in report["months"]] == [(1, 0, 0, 0, 0), (3, 1, 1, 2, 2), (0, 0, 1, 0, 1)]
    assert [(s["name"], s["orders"], s["sales_cents"],
             [(m["month"], m["orders"], m["sales_cents"]) for m in s["months"]])
            for s in report["shops"]] == [
        ("Fromagerie du Trégor", 3, 5500,
         [("2026-02", 1, 2500), ("2026-03", 1, 2000), ("2026-04", 1, 1000)]),
        ("Boulangerie Le Fournil", 3, 3500,
         [("2026-02", 1, 1500), ("2026-03", 2, 2000), ("2026-04", 0, 0)])]
    assert [(s["slot_id"], s["label"], s["capacity"], s["booked"], s["picked_up"], s["no_shows"])
            for s in report["slots"]] == [
        (str(history.slots["thursday"]), "", 6, 1, 1, 0),
        (str(history.slots["saturday"]), "", 4, 3, 2, 1),
        (str(history.slots["sunday"]), "Dégustation de fromages", 3, 2, 1, 0)]
    assert len(report["weeks"]) == 14
    assert report["weeks"][0]["week_of"] == "2026-01-26"
    assert [(w["week_of"], w["visits"]) for w in report["weeks"] if w["visits"]] == [
        ("2026-02-02", 1), ("2026-03-23", 3)]
    # Sunday 29 March, 08:15 UTC, was 10:15 in Paris: summer time had begun that night.
    assert [(h["weekday_label"], h["hour"], h["visits"]) for h in report["hours"]] == [
        ("jeudi", 17, 1), ("samedi", 10, 2), ("dimanche", 10, 1)]
    assert [(g["gathering_id"], g["capacity"], g["signed_up"], g["attended"],
             g["attended_signed_up"]) for g in report["gatherings"]] == [
        (str(history.gatherings["tasting"]), 10, 2, 2, 1),
        (str(history.gatherings["talk"]), 0, 0, 1, 0)]


async def test_a_period_of_one_month_counts_its_buyers_against_all_they_bought_before(
        pickup, history):
    april = (await pickup.client.get(history.report + "?from=2026-04&to=2026-04",
                                     headers=history.admin)).json()
    january = (await pickup.client.get(history.report + "?from=2026-01&to=2026-01",
                                       headers=history.admin)).json()

    assert (april["headline"]["buyers"], april["headline"]["new_buyers"]) == (1, 0)
    assert april["headline"]["sales_cents"] == 1000
    assert (january["headline"]["buyers"], january["headline"]["new_buyers"]) == (1, 1)
    assert (january["headline"]["visits"], january["slots"][0]["slot_id"]) == (
        1, str(history.slots["january"]))


async def test_the_csv_has_one_figure_a_row_with_its_section(pickup, history):
    response = await pickup.client.get(history.page + ".csv" + PERIOD, headers=history.admin)

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert 'filename="rapport-2026-02_2026-04.csv"' in response.headers["content-disposition"]
    assert response.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["section", "periode", "sujet", "mesure", "valeur", "valeur_euros"]
    for row in (["mois", "2026-03", "", "ventes_centimes", "4000", "40,00"],
                ["mois", "2026-03", "", "nouveaux_acheteurs", "2", ""],
                ["mois", "2026-02", "", "membres_gagnes", "1", ""],
                ["mois", "2026-03", "", "membres_gagnes", "2", ""],
                ["mois", "2026-04", "", "membres_gagnes", "0", ""],
                ["boutiques", "2026-02", "Fromagerie du Trégor", "ventes_centimes", "2500", "25,00"],
                ["boutiques", "2026-03", "Boulangerie Le Fournil", "commandes", "2", ""],
                ["creneaux", "2026-03-29 10:00", "Dégustation de fromages", "retraits", "1", ""],
                ["creneaux", "2026-03-28 10:00", "", "absences", "1", ""],
                ["visites_semaine", "2026-03-23", "", "visites", "3", ""],
                ["visites_horaire", "dimanche 10h", "", "visites", "1", ""],
                ["animations", "2026-03-29 18:00", "Dégustation de fromages",
                 "presences_inscrits", "1", ""]):
        assert row in rows
    sections = [row[0] for row in rows[1:]]
    assert (sections.count("mois"), sections.count("boutiques"), sections.count("creneaux")) == (
        3 * 11, 2 * 3 * 2, 3 * 4)
    assert (sections.count("visites_semaine"), sections.count("visites_horaire"),
            sections.count("animations")) == (14, 3, 2 * 4)


async def test_the_page_draws_a_bar_per_month_in_proportion_with_the_table_beside(pickup, history):
    response = await pickup.client.get(history.page + PERIOD, headers=history.admin)

    assert response.status_code == 200
    charts = charts_of(response.text)
    sales = charts["ventes"]
    assert sales.get("role") == "img"
    assert sales.find(f"{SVG}title").text == "Ventes par mois et par boutique"
    assert "mars 2026 : 40,00" in sales.find(f"{SVG}desc").text
    heights = bar_heights(sales)
    assert list(heights) == ["2026-02", "2026-03", "2026-04"]
    assert heights["2026-02"] == heights["2026-03"] == pytest.approx(4 * heights["2026-04"])
    assert heights["2026-02"] > 0
    [march] = [g for g in sales.iter(f"{SVG}g") if g.get("data-key") == "2026-03"]
    assert sorted(rect.find(f"{SVG}title").text for rect in march.iter(f"{SVG}rect")) == [
        "Boulangerie Le Fournil · mars 2026 : 20,00\xa0€",
        "Fromagerie du Trégor · mars 2026 : 20,00\xa0€"]
    visits = bar_heights(charts["visites"])
    assert len(visits) == 14
    assert visits["2026-03-23"] == pytest.approx(3 * visits["2026-02-02"])
    assert sum(1 for height in visits.values() if height) == 2
    page = response.text
    assert "<h1>Rapport d'activité · Le Grenier Partagé</h1>" in page
    assert "90,00\xa0€" in page and "Causerie circuits courts" in page
    assert "<dt>Membres gagnés</dt><dd>3</dd>" in page and ">—</span>" not in page
    assert f'action="/pickup/hubs/{history.hub_id}/rapport"' in page
    assert f'href="/pickup/hubs/{history.hub_id}/rapport.csv?from=2026-02&amp;to=2026-04"' in page
