"""The no-show policy's rules, free of I/O. Durations are real time: every sum is in UTC, so a
48-hour hold across a daylight-saving change still lasts 48 hours."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from libs.kit.errors import Conflict
from libs.kit.i18n import gettext as _
from services.pickup.domain import CANCELLED, NO_SHOW, PICKED_UP, READY

MAX_REMINDER_AFTER_HOURS = 7 * 24
MAX_HOLD_HOURS = 30 * 24


class NoShowTerms(BaseModel):
    """How long after the slot ends the resident is reminded, and how long the goods wait for
    them; the refund is the payment service's (its per-hub ``no_show_refund_bps``)."""

    model_config = ConfigDict(extra="forbid")

    reminder_after_hours: int = Field(ge=0, le=MAX_REMINDER_AFTER_HOURS)
    hold_hours: int = Field(ge=1, le=MAX_HOLD_HOURS)

    @model_validator(mode="after")
    def _hold_outlasts_reminder(self) -> NoShowTerms:
        if self.hold_hours <= self.reminder_after_hours:
            raise ValueError(_("la garde (hold_hours) doit durer plus longtemps que le délai du "
                               "rappel (reminder_after_hours)"))
        return self

    @property
    def reminder_after(self) -> timedelta:
        return timedelta(hours=self.reminder_after_hours)

    @property
    def hold(self) -> timedelta:
        return timedelta(hours=self.hold_hours)


DEFAULT_TERMS = NoShowTerms(reminder_after_hours=2, hold_hours=48)


class Step(StrEnum):
    WAIT = "wait"
    REMIND = "remind"
    GIVE_UP = "give_up"


def waited_from(slot_ends_at: datetime, ready_at: datetime | None) -> datetime:
    """When the resident could have come and did not: the slot's end, or later if the goods
    were only all in after it."""
    return max(slot_ends_at, ready_at or slot_ends_at)


def next_step(terms: NoShowTerms, *, slot_ends_at: datetime, ready_at: datetime | None,
              reminded: bool, held_until: datetime | None, now: datetime) -> Step:
    """A ready pickup is reminded once, then given up on when its hold is over; never given up
    on before the resident was reminded."""
    if not reminded:
        due = waited_from(slot_ends_at, ready_at) + terms.reminder_after
        return Step.REMIND if now >= due else Step.WAIT
    return Step.GIVE_UP if held_until is not None and now >= held_until else Step.WAIT


def hold_end(terms: NoShowTerms, *, slot_ends_at: datetime, ready_at: datetime | None,
             now: datetime) -> datetime:
    """Until when the goods wait, said in the reminder: the hold after the slot, and never less
    than the hold leaves after a reminder sent on time (a late reminder gives that time)."""
    return max(waited_from(slot_ends_at, ready_at) + terms.hold,
               now + terms.hold - terms.reminder_after)


def refuse_no_show(pickup_status: str, slot_ends_at: datetime, now: datetime) -> None:
    """Staff record a no-show by hand only for goods all in, once the slot is over."""
    if pickup_status == NO_SHOW:
        raise Conflict(_("cette commande est déjà enregistrée comme non retirée"))
    if pickup_status == PICKED_UP:
        raise Conflict(_("cette commande a déjà été remise"))
    if pickup_status == CANCELLED:
        raise Conflict(_("cette commande a été annulée"))
    if pickup_status != READY:
        raise Conflict(_("des parts restent à déposer : la commande n'a pas pu être retirée"))
    if now < slot_ends_at:
        raise Conflict(_("le créneau de retrait n'est pas terminé : le client peut encore venir"))
