"""The rules of a hub's gatherings (« animations »: tastings, workshops, talks), free of I/O.

A gathering's ``capacity`` is how many residents may sign up; 0 means free entry: nobody signs
up, anyone may come (staff may still record who came)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from libs.kit.errors import Conflict, Unprocessable
from libs.kit.i18n import gettext as _

PARIS = ZoneInfo("Europe/Paris")

SCHEDULED, CANCELLED = "scheduled", "cancelled"
SIGNED_UP, SIGN_UP_CANCELLED = "signed_up", "cancelled"

MAX_CAPACITY = 10_000
MAX_LINKED_SHOPS = 20
# Staff tick people in as they arrive, a little before the start included.
ATTENDANCE_OPENS_BEFORE = timedelta(hours=1)


def paris_wall_clock(value: datetime) -> datetime:
    """A time given with its offset, or as read on a clock in Paris; in UTC.

    A wall-clock time the spring change skips (02:30 on the last Sunday of March) does not
    exist: refused. One the autumn change repeats is taken at its first occurrence."""
    if value.tzinfo is not None and value.utcoffset() is not None:
        return value.astimezone(UTC)
    local = value.replace(tzinfo=PARIS)
    moment = local.astimezone(UTC)
    if moment.astimezone(PARIS).replace(tzinfo=None) != value:
        raise ValueError(_("%(moment)s n'existe pas à Paris (changement d'heure)")
                         % {"moment": f"{value:%d/%m/%Y %H:%M}"})
    return moment


class GatheringDetails(BaseModel):
    """A gathering as a hub admin describes it. Times without an offset are Paris wall-clock
    times; ``collection_capacity``, when given, also opens a collection slot during it for that
    many orders."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=4000)
    starts_at: datetime
    ends_at: datetime
    capacity: int = Field(ge=0, le=MAX_CAPACITY,
                          description="How many residents may sign up; 0: free entry, no sign-up.")
    shop_ids: list[UUID] = Field(default_factory=list, max_length=MAX_LINKED_SHOPS)
    collection_capacity: int | None = Field(
        default=None, ge=1, le=MAX_CAPACITY,
        description="Orders that may be collected during the gathering; none when unset.")

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _in_utc(cls, value: datetime) -> datetime:
        return paris_wall_clock(value)

    @field_validator("shop_ids")
    @classmethod
    def _each_once(cls, value: list[UUID]) -> list[UUID]:
        return list(dict.fromkeys(value))

    @model_validator(mode="after")
    def _ends_after_start(self) -> GatheringDetails:
        if self.ends_at <= self.starts_at:
            raise ValueError(_("la fin de l'animation (ends_at) doit venir après son début "
                               "(starts_at)"))
        return self


class GatheringChanges(BaseModel):
    """What a hub admin changes of a gathering; what is left out stays as it was."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=4000)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    capacity: int | None = Field(default=None, ge=0, le=MAX_CAPACITY)
    shop_ids: list[UUID] | None = Field(default=None, max_length=MAX_LINKED_SHOPS)
    collection_capacity: int | None = Field(
        default=None, ge=1, le=MAX_CAPACITY,
        description="Opens a collection slot during the gathering, if it has none yet.")

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _in_utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else paris_wall_clock(value)

    @field_validator("shop_ids")
    @classmethod
    def _each_once(cls, value: list[UUID] | None) -> list[UUID] | None:
        return None if value is None else list(dict.fromkeys(value))

    def applied_to(self, current: GatheringDetails) -> GatheringDetails:
        """The gathering as it will be; validated again as a whole (its end after its start)."""
        try:
            return GatheringDetails.model_validate({
                **current.model_dump(),
                **self.model_dump(exclude_unset=True, exclude_none=True),
            })
        except ValidationError as exc:
            problems = [error["msg"].removeprefix("Value error, ") for error in exc.errors()]
            raise Unprocessable("; ".join(problems), details=problems) from None


def refuse_schedule(starts_at: datetime, now: datetime) -> None:
    if starts_at <= now:
        raise Conflict(_("l'animation doit commencer dans le futur"))


def refuse_change(*, status: str, starts_at: datetime, now: datetime, taken: int,
                  new_capacity: int, moves: bool, has_collection_slot: bool) -> None:
    if status == CANCELLED:
        raise Conflict(_("cette animation est annulée : elle ne peut plus être modifiée"))
    if starts_at <= now:
        raise Conflict(_("cette animation a commencé : elle ne peut plus être modifiée"))
    if new_capacity < taken:
        raise Conflict(_("%(taken)d personne(s) sont déjà inscrites : la jauge ne peut pas "
                         "descendre en dessous") % {"taken": taken})
    if new_capacity == 0 and taken:
        raise Conflict(_("des personnes sont inscrites : l'animation ne peut pas passer en "
                         "entrée libre"))
    if moves and has_collection_slot:
        # Orders already hold places in the collection slot at the announced times.
        raise Conflict(_("un créneau de retrait est attaché à cette animation : ses horaires "
                         "ne peuvent plus changer ; annulez-la et programmez-en une autre"))


def refuse_sign_up(*, status: str, starts_at: datetime, capacity: int, now: datetime) -> None:
    """Why nobody may sign up now, the places left aside (the conditional update decides)."""
    if status == CANCELLED:
        raise Conflict(_("cette animation est annulée"))
    if starts_at <= now:
        raise Conflict(_("cette animation a commencé : les inscriptions sont closes"))
    if capacity == 0:
        raise Conflict(_("entrée libre : cette animation se passe d'inscription"))


def refuse_sign_up_cancellation(*, starts_at: datetime, now: datetime) -> None:
    if starts_at <= now:
        raise Conflict(_("cette animation a commencé : l'inscription ne peut plus être annulée"))


def attendance_refusal(*, status: str, starts_at: datetime, now: datetime) -> str | None:
    """Why staff cannot record who came yet, if they cannot."""
    if status == CANCELLED:
        return _("cette animation est annulée : personne n'y est venu")
    if now < starts_at - ATTENDANCE_OPENS_BEFORE:
        return _("les présences se notent à partir d'une heure avant le début")
    return None


def places_left(capacity: int, taken: int) -> int | None:
    """None for a free-entry gathering, which has no places to count."""
    return None if capacity == 0 else max(capacity - taken, 0)
