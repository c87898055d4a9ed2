"""Decodes envelopes into typed events by (type, version), rejecting what it does not know."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import ValidationError

from libs.contracts.envelope import Envelope

if TYPE_CHECKING:
    from libs.contracts.base import Event


class ContractError(Exception):
    """An event that cannot be decoded; retrying will not help."""


class UnknownEvent(ContractError):
    pass


class InvalidEvent(ContractError):
    pass


class EventRegistry:
    def __init__(self) -> None:
        self._by_name: dict[tuple[str, int], type[Event]] = {}

    def register(self, event_class: type[Event]) -> type[Event]:
        name = (event_class.event_type, event_class.event_version)
        if name in self._by_name and self._by_name[name] is not event_class:
            raise ValueError(f"event {name[0]} v{name[1]} is defined twice")
        self._by_name[name] = event_class
        return event_class

    def __iter__(self):
        return iter(sorted(self._by_name.values(), key=lambda c: (c.event_type, c.event_version)))

    def lookup(self, event_type: str, version: int) -> type[Event]:
        try:
            return self._by_name[(event_type, version)]
        except KeyError:
            known = sorted(v for t, v in self._by_name if t == event_type)
            hint = f"known versions: {known}" if known else "no such event type"
            raise UnknownEvent(f"unknown event {event_type!r} v{version} ({hint})") from None

    def envelope(self, raw: bytes) -> Envelope:
        try:
            return Envelope.from_bytes(raw)
        except ValidationError as exc:
            raise InvalidEvent(f"not an event envelope: {_summary(exc)}") from None

    def decode(self, envelope: Envelope) -> Event:
        event_class = self.lookup(envelope.type, envelope.version)
        try:
            return event_class.model_validate(envelope.payload)
        except ValidationError as exc:
            raise InvalidEvent(
                f"invalid {envelope.type} v{envelope.version} payload: {_summary(exc)}"
            ) from None

    def decode_bytes(self, raw: bytes) -> tuple[Envelope, Event]:
        envelope = self.envelope(raw)
        return envelope, self.decode(envelope)

    def topics(self) -> list[str]:
        return sorted({c.topic for c in self._by_name.values()})


def _summary(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()
    )
