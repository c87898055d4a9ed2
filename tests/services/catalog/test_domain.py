"""The catalog's pure rules: prices read from euros, names searched without case or accents."""

from __future__ import annotations

import pytest

from services.catalog.domain import InvalidPrice, euros_to_cents, searchable


@pytest.mark.parametrize("text, cents", [
    ("4,50", 450), ("4.5", 450), ("12", 1200), (" 3,00 € ", 300), ("0", 0), ("0,10", 10),
    ("19,99", 1999), ("1 250,00", 125000), ("1\u202f250,00\u00a0€", 125000),
])
def test_prices_in_euros_become_exact_cents(text, cents):
    assert euros_to_cents(text) == cents


@pytest.mark.parametrize("text", [
    "", "abc", "4,505", "-1", "4,5,0", "NaN", "Infinity", "1e2", ",50", "2000000",
])
def test_anything_but_a_price_is_refused(text):
    with pytest.raises(InvalidPrice):
        euros_to_cents(text)


def test_names_are_searched_without_case_or_accents():
    assert searchable("Terrine au PÂTÉ") == "terrine au pate"
    assert searchable("Œufs fermiers") == searchable("œufs FERMIERS")
    assert searchable("pâté") in searchable("Pate de campagne")
