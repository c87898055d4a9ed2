"""The envelope every event travels in, and its JSON wire form."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator


def utc_now() -> datetime:
    return datetime.now(UTC)


class Envelope(BaseModel):
    """Identity, routing and tracing of one event; ``payload`` is the typed event as JSON."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: UUID = Field(default_factory=uuid4)
    type: str = Field(min_length=1)
    version: int = Field(ge=1)
    occurred_at: AwareDatetime = Field(default_factory=utc_now)
    key: str = Field(min_length=1, description="The aggregate id; the Kafka record key.")
    correlation_id: str = Field(min_length=1, description="Shared by every event of one saga.")
    causation_id: str | None = Field(default=None, description="The event id this one answers.")
    payload: dict[str, Any]

    @field_validator("occurred_at")
    @classmethod
    def _in_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> Envelope:
        return cls.model_validate_json(raw)
