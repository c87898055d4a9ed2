"""The event contracts: the envelope, the registry, and the committed JSON Schemas."""

from __future__ import annotations

import json
import uuid
from datetime import datetime

import pytest

from libs.contracts import Envelope, InvalidEvent, UnknownEvent, registry
from libs.contracts.pickup import HubOpened
from libs.contracts.schemas import FOLDER, export_schemas

HUB = HubOpened(hub_id=uuid.uuid4(), name="Tiers-lieu", town="Quimper", address="5 rue Kéréon")


def test_an_event_round_trips_through_its_envelope():
    envelope = HUB.envelope(correlation_id="c-1", causation_id="e-0")
    decoded_envelope, decoded = registry.decode_bytes(envelope.to_bytes())
    assert decoded == HUB
    assert decoded_envelope == envelope
    assert envelope.key == str(HUB.hub_id)
    assert envelope.type == "HubOpened" and envelope.version == 1
    assert envelope.occurred_at.utcoffset().total_seconds() == 0


def test_the_envelope_keeps_times_in_utc():
    envelope = Envelope(type="HubOpened", version=1, key="k", correlation_id="c", payload={},
                        occurred_at=datetime.fromisoformat("2026-03-29T03:30:00+02:00"))
    assert envelope.occurred_at.isoformat() == "2026-03-29T01:30:00+00:00"


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"type": "HubClosedForever"}, UnknownEvent, "no such event type"),
        ({"version": 7}, UnknownEvent, "known versions: [1]"),
        ({"payload": {"hub_id": "not-a-uuid"}}, InvalidEvent, "hub_id"),
    ],
)
def test_the_registry_rejects_what_it_does_not_know(change, error, message):
    raw = json.loads(HUB.envelope(correlation_id="c").to_bytes())
    raw.update(change)
    with pytest.raises(error, match=message.replace("[", r"\[").replace("]", r"\]")):
        registry.decode_bytes(json.dumps(raw).encode())


def test_something_that_is_not_an_envelope_is_invalid():
    with pytest.raises(InvalidEvent, match="not an event envelope"):
        registry.decode_bytes(b'{"hello": "world"}')
    with pytest.raises(InvalidEvent):
        registry.decode_bytes(b"\xff not json")


def test_the_committed_json_schemas_are_current():
    stale = export_schemas(write=False)
    assert not stale, f"run `adopte contracts export` and commit: {stale}"
    schema = json.loads((FOLDER / "HubOpened.v1.json").read_text())
    assert schema["x-topic"] == "pickup.hub"
    assert set(schema["required"]) == {"hub_id", "name", "town", "address"}
