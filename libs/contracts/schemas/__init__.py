"""The JSON Schema of every event, exported here and committed, so consumers outside Python (and
reviewers) see each contract, and a test fails when one changes without being exported."""

from __future__ import annotations

import json
from pathlib import Path

from libs.contracts import registry

FOLDER = Path(__file__).parent


def schema_files() -> dict[str, str]:
    """File name → JSON text, for every registered event."""
    files = {}
    for event_class in registry:
        schema = event_class.model_json_schema()
        schema["$id"] = f"adopte:event:{event_class.event_type}:v{event_class.event_version}"
        schema["x-topic"] = event_class.topic
        schema["x-key-field"] = event_class.key_field
        name = f"{event_class.event_type}.v{event_class.event_version}.json"
        files[name] = json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    return files


def export_schemas(*, write: bool) -> list[str]:
    """The files that differ from the registry (added, changed or obsolete); written if asked."""
    wanted = schema_files()
    present = {p.name: p.read_text() for p in FOLDER.glob("*.json")}
    stale = sorted(n for n in wanted.keys() | present.keys() if wanted.get(n) != present.get(n))
    if write:
        for name in stale:
            if name in wanted:
                (FOLDER / name).write_text(wanted[name])
            else:
                (FOLDER / name).unlink()
    return stale
