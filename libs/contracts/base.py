"""The base of every typed event, and the one registry they register with."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from libs.contracts.envelope import Envelope
from libs.contracts.registry import EventRegistry

registry = EventRegistry()


class Event(BaseModel):
    """A fact a service states about its own aggregate, named in the past tense.

    Subclasses set ``event_type`` (defaults to the class name), ``event_version``, ``topic``
    (one per aggregate stream) and ``key_field`` (the field holding the aggregate id).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[str]
    event_version: ClassVar[int] = 1
    topic: ClassVar[str]
    key_field: ClassVar[str]

    def __init_subclass__(cls, abstract: bool = False, **kwargs):
        # The keyword is consumed in __pydantic_init_subclass__, once the fields are known.
        super().__init_subclass__(**kwargs)

    @classmethod
    def __pydantic_init_subclass__(cls, abstract: bool = False, **kwargs):
        super().__pydantic_init_subclass__(**kwargs)
        if abstract:
            return
        cls.event_type = cls.__dict__.get("event_type", cls.__name__)
        missing = [name for name in ("topic", "key_field") if not hasattr(cls, name)]
        if missing:
            raise TypeError(f"{cls.__name__} must set {', '.join(missing)}")
        if cls.key_field not in cls.model_fields:
            raise TypeError(f"{cls.__name__}.key_field names no field: {cls.key_field}")
        registry.register(cls)

    @property
    def key(self) -> str:
        return str(getattr(self, self.key_field))

    def envelope(self, *, correlation_id: str, causation_id: str | None = None) -> Envelope:
        return Envelope(
            type=self.event_type,
            version=self.event_version,
            key=self.key,
            correlation_id=correlation_id,
            causation_id=causation_id,
            payload=self.model_dump(mode="json"),
        )
