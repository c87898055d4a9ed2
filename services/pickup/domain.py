"""The pickup service's rules, free of I/O."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator


class HubDetails(BaseModel):
    """What it takes to open a hub: a name, the town it serves and where to find it."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    town: str = Field(min_length=1, max_length=200)
    address: str = Field(min_length=1, max_length=500)

    @field_validator("name", "town", "address")
    @classmethod
    def _single_spaced(cls, value: str) -> str:
        return " ".join(value.split())
