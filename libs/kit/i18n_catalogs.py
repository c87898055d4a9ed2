"""Keeping the English catalogs in step with the French text (``adopte i18n``).

A domain is one catalog: ``kit`` (the shared layout and pages of libs/kit) or a service. Its text
is extracted from its folder as babel.cfg says (``_``, ``N_``, ``ngettext`` in Python;
``_``/``{% trans %}`` in the templates) into ``locales/messages.pot``; ``update`` merges that into
each ``locales/<locale>/LC_MESSAGES/messages.po``; ``check`` says what is left to translate.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po, write_po

from libs.kit.i18n import CATALOG, DEFAULT_LOCALE, LOCALES

REPO = Path(__file__).resolve().parents[2]
MAPPING = REPO / "babel.cfg"
DOMAINS = ("kit", "accounts", "catalog", "order", "payment", "pickup", "notification")
TRANSLATED = tuple(locale for locale in LOCALES if locale != DEFAULT_LOCALE)
PROJECT = "Adopte mon commerçant"
HEADER = ("# The pages of Adopte mon commerçant in {language}: French is the source language.\n"
          "# `adopte i18n update` keeps this file in step with the text; translate what is new.")


def domain_folder(domain: str) -> Path:
    if domain not in DOMAINS:
        raise ValueError(f"no catalog {domain!r}; the catalogs are {', '.join(DOMAINS)}")
    return REPO / "libs" / "kit" if domain == "kit" else REPO / "services" / domain


def template_path(domain: str) -> Path:
    return domain_folder(domain) / "locales" / "messages.pot"


def catalog_path(domain: str, locale: str) -> Path:
    return domain_folder(domain) / "locales" / locale / CATALOG


def extract(domain: str) -> Catalog:
    """Every message the domain's code and templates ask to translate, as a template catalog."""
    folder = domain_folder(domain)
    with MAPPING.open() as mapping:
        method_map, options_map = parse_mapping_cfg(mapping)
    template = Catalog(project=PROJECT, charset="utf-8", fuzzy=False)
    for filename, lineno, message, comments, context in extract_from_dir(
            folder, method_map, options_map, comment_tags=("Translators:",),
            strip_comment_tags=True):
        template.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return template


def write_template(domain: str, template: Catalog | None = None) -> Path:
    path = template_path(domain)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as pot:
        write_po(pot, template or extract(domain), width=100, include_lineno=False,
                 omit_header=True)
    return path


def _read(path: Path, locale: str) -> Catalog:
    with path.open("rb") as po_file:
        return read_po(po_file, locale=locale)


def update(domain: str) -> list[Path]:
    """Extracts again (messages.pot), then brings each locale's catalog in line: new messages to
    translate (fuzzy when a near one was translated), gone ones dropped."""
    template = extract(domain)
    written = [write_template(domain, template)]
    for locale in TRANSLATED:
        path = catalog_path(domain, locale)
        if path.exists():
            catalog = _read(path, locale)
        else:
            catalog = Catalog(locale=locale, project=PROJECT, charset="utf-8", fuzzy=False)
        created = catalog.creation_date
        catalog.header_comment = HEADER.format(language=catalog.locale.english_name)
        catalog.last_translator = catalog.language_team = ""
        catalog.update(template)
        catalog.creation_date = created  # no change in the file unless a message changed
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as po_file:
            write_po(po_file, catalog, width=100, include_lineno=False, ignore_obsolete=True)
        written.append(path)
    return written


def check(domain: str) -> list[str]:
    """What keeps the domain from being fully translated; empty when all is well."""
    template = extract(domain)
    wanted = [message for message in template if message.id]
    problems = []
    for locale in TRANSLATED:
        path = catalog_path(domain, locale)
        where = str(path.relative_to(REPO))
        if not path.exists():
            problems += [f"{where}: missing, with {len(wanted)} messages to translate"] if wanted else []
            continue
        catalog = _read(path, locale)
        for message in wanted:
            found = catalog.get(message.id, message.context)
            if found is None or not _translated(found.string):
                problems.append(f"{where}: untranslated {_shown(message.id)}")
            elif found.fuzzy:
                problems.append(f"{where}: fuzzy {_shown(message.id)}")
        extracted = {(_key(message.id), message.context) for message in wanted}
        problems += [f"{where}: obsolete {_shown(message.id)}" for message in catalog
                     if message.id and (_key(message.id), message.context) not in extracted]
        problems += [f"{where}: obsolete {_shown(message.id)}"
                     for message in catalog.obsolete.values()]
        problems += [f"{where}: {_shown(message.id)}: {error}"
                     for message, errors in catalog.check() for error in errors]
    return problems


def _translated(string: str | tuple[str, ...]) -> bool:
    return all(string) if isinstance(string, tuple) else bool(string)


def _key(message_id: str | tuple[str, ...]) -> str:
    return message_id[0] if isinstance(message_id, tuple) else message_id


def _shown(message_id: str | tuple[str, ...]) -> str:
    return repr(_key(message_id))
