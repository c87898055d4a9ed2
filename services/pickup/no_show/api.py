"""The no-show policy and the no-show staff record by hand, under /pickup/api/v1."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from libs.auth.web import CurrentUser
from libs.kit.app import Runtime
from services.pickup.api import PickupOut
from services.pickup.no_show import use_cases
from services.pickup.no_show.domain import NoShowTerms

router = APIRouter(prefix="/api/v1", tags=["no-shows"])


class NoShowPolicyOut(NoShowTerms):
    hub_id: UUID
    is_default: bool
    refund_setting: str


def _policy_out(policy: use_cases.HubNoShowPolicy) -> NoShowPolicyOut:
    return NoShowPolicyOut(**policy.terms.model_dump(), hub_id=policy.hub.id,
                           is_default=policy.is_default,
                           refund_setting=refund_setting_path(policy.hub.id))


def refund_setting_path(hub_id: UUID) -> str:
    """What a no-show gets back is the payment service's to say, in one place."""
    return f"/payments/api/v1/hubs/{hub_id}/no-show-refund"


@router.get("/hubs/{hub_id}/no-show-policy", response_model=NoShowPolicyOut)
async def get_policy(hub_id: UUID, runtime: Runtime, principal: CurrentUser):
    """The hub's reminder delay and hold period after a slot ends (its staff; the default
    until its admins set one). The refund rate is payment's: ``refund_setting``."""
    return _policy_out(await use_cases.policy_of(runtime, principal, hub_id))


@router.put("/hubs/{hub_id}/no-show-policy", response_model=NoShowPolicyOut)
async def set_policy(hub_id: UUID, terms: NoShowTerms, runtime: Runtime, principal: CurrentUser):
    """The hub's admins set it (403 otherwise), for reminders sent from now on."""
    return _policy_out(await use_cases.set_policy(runtime, principal, hub_id, terms))


@router.post("/pickups/{order_id}/no-show", response_model=PickupOut)
async def record_no_show(order_id: UUID, runtime: Runtime, principal: CurrentUser):
    """Staff record that the resident did not come (409 before the slot is over, or unless
    the order is ready); the goods go back to their shops (NoShowRecorded)."""
    return await use_cases.record_no_show(runtime, principal, order_id)
