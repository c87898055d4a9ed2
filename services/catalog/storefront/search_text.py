"""How the catalogue's text is searched, free of I/O: French words folded to the one form that the
index and the query both use, so that case, accents, plurals and feminine endings do not matter
("Pâtés" and "pate", "fermières" and "Fermier" are the same word).

The stemmer is deliberately light: plurals and the common feminine endings, nothing that needs a
dictionary. Both engines see only these forms: SQLite's FTS5 indexes them as they are, and
PostgreSQL's ``french`` configuration adds its own stemming on top, the same on both sides of a
match. Stop words are dropped here, so that no word either engine keeps is one the other drops.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

# PostgreSQL's french stop words (tsearch_data/french.stop), folded.
STOP_WORDS = frozenset("""
    a au aux avec ce ces dans de des du elle en et eux il je la le leur lui ma mais me meme mes moi
    mon ne nos notre nous on ou par pas pour qu que qui sa se ses son sur ta te tes toi ton tu un
    une vos votre vous c d j l m n s t y ete etee etees etes etant etante etants etantes suis es
    est sommes sont serai seras sera serons serez seront serais serait serions seriez seraient
    etais etait etions etiez etaient fus fut fumes futes furent sois soit soyons soyez soient
    fusse fusses fussions fussiez fussent ayant ayante ayantes ayants eu eue eues eus ai as avons
    avez ont aurai auras aura aurons aurez auront aurais aurait aurions auriez auraient avais
    avait avions aviez avaient eut eumes eutes eurent aie aies ait ayons ayez aient eusse eusses
    eussions eussiez eussent
""".split())

# Feminine endings and the masculine they fold to, longest first.
_FEMININE = (("ienne", "ien"), ("euse", "eu"), ("elle", "el"), ("ere", "er"), ("ive", "if"))
_WORD = re.compile(r"[^\W_]+")
_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae"})
MIN_PREFIX = 3


def folded(text: str) -> str:
    """Lower case, without accents or ligatures: "Bœuf à l'Étouffée" → "boeuf a l'etouffee"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().translate(_LIGATURES))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def stem(word: str) -> str:
    """A folded word without its plural, then without its feminine ending or its final e (or ee:
    "fumée" and "fumé" are one word)."""
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("eaux"):
        word = word[:-1]
    elif word.endswith("aux"):
        word = word[:-3] + "al"
    elif word[-1] in "sx":
        word = word[:-1]
    for ending, masculine in _FEMININE:
        if word.endswith(ending) and len(word) > len(ending) + 1:
            return word[: -len(ending)] + masculine
    if word.endswith("ee") and len(word) > 4:
        return word[:-2]
    if word.endswith("e") and len(word) > 3:
        return word[:-1]
    return word


def _words(text: str) -> list[str]:
    return [word for word in _WORD.findall(folded(text)) if len(word) > 1]


def terms(*texts: str) -> str:
    """What is indexed of ``texts``: their words' stems, in order, stop words left out."""
    stems = (stem(word) for text in texts for word in _words(text) if word not in STOP_WORDS)
    return " ".join(s for s in stems if s not in STOP_WORDS)


@dataclass(frozen=True)
class QueryTerm:
    """One word of a query: its stem, and whether it also matches as the start of a longer word.
    A word the stemmer left as it was ("choco") may be one being typed; one it recognised as
    inflected ("pâtés") is whole, so it finds "pâté" but not "pâtisserie"."""

    stem: str
    prefix: bool


def query_terms(query: str) -> list[QueryTerm]:
    """The distinct words of a query; every one of them must match."""
    found: dict[str, QueryTerm] = {}
    for word in _words(query):
        if word in STOP_WORDS or (stemmed := stem(word)) in STOP_WORDS:
            continue
        prefix = stemmed == word and word.isalpha() and len(word) >= MIN_PREFIX
        previous = found.get(stemmed)
        found[stemmed] = QueryTerm(stemmed, prefix or (previous is not None and previous.prefix))
    return list(found.values())


def fts5_match(query: Iterable[QueryTerm]) -> str:
    """The terms as an SQLite FTS5 query: all of them, each whole or as a prefix."""
    return " AND ".join(f'("{t.stem}" OR "{t.stem}"*)' if t.prefix else f'"{t.stem}"' for t in query)


def ts_query(query: Iterable[QueryTerm]) -> str:
    """The terms as a PostgreSQL ``to_tsquery`` text: all of them, each whole or as a prefix."""
    return " & ".join(f"('{t.stem}' | '{t.stem}':*)" if t.prefix else f"'{t.stem}'" for t in query)
