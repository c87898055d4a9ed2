"""The pickup service's composition root: settings and adapters, nothing connected yet."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from libs.kit.runtime import Periodic, ServiceDefinition, ServiceRuntime, build_runtime
from libs.kit.settings import ServiceSettings
from libs.messaging.port import EventBus
from services.pickup import api
from services.pickup.desk import api as desk_api
from services.pickup.desk import pages as desk_pages
from services.pickup.gatherings import api as gathering_api
from services.pickup.gatherings import pages as gathering_pages
from services.pickup.gatherings import tables as gathering_tables  # noqa: F401 (create_all makes them)
from services.pickup.membership import api as membership_api
from services.pickup.membership import pages as membership_pages
from services.pickup.membership import tables as membership_tables  # noqa: F401 (create_all makes them)
from services.pickup.membership.use_cases import end_lapsed_memberships
from services.pickup.no_show import api as no_show_api
from services.pickup.no_show import pages as no_show_pages
from services.pickup.no_show import tables as no_show_tables  # noqa: F401 (create_all makes them)
from services.pickup.no_show.use_cases import chase_overdue_pickups
from services.pickup.report import api as report_api
from services.pickup.report import pages as report_pages
from services.pickup.report import tables as report_tables  # noqa: F401 (create_all makes them)
from services.pickup.schedule import api as schedule_api
from services.pickup.schedule import pages as schedule_pages
from services.pickup.schedule import tables as schedule_tables  # noqa: F401 (create_all makes them)
from services.pickup.schedule.use_cases import generate_every_hubs_slots
from services.pickup.subscriptions import SUBSCRIPTIONS
from services.pickup.tables import PickupTable


class PickupSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ADOPTE_PICKUP_", extra="ignore")

    slot_generation_interval_s: float = 3600.0
    # How often ready pickups whose slot is over are chased (reminder, then no-show).
    no_show_check_interval_s: float = 300.0
    # How often memberships whose time is up are ended, and unpaid fees given up on.
    membership_check_interval_s: float = 300.0


SERVICE_SETTINGS = PickupSettings

SERVICE = ServiceDefinition(
    name="pickup",
    prefix="/pickup",
    metadata=PickupTable.metadata,
    subscriptions=SUBSCRIPTIONS,
    routers=[api.router, desk_api.router, desk_api.code_router, desk_pages.router,
             no_show_api.router, no_show_pages.router, gathering_api.router, gathering_pages.router,
             schedule_api.router, schedule_pages.router, report_api.router, report_pages.router,
             membership_api.router, membership_pages.router],
    periodic=[Periodic(lambda settings: settings.slot_generation_interval_s,
                       generate_every_hubs_slots),
              Periodic(lambda settings: settings.no_show_check_interval_s,
                       chase_overdue_pickups),
              Periodic(lambda settings: settings.membership_check_interval_s,
                       end_lapsed_memberships)],
)


def build(settings: PickupSettings | None = None, bus: EventBus | None = None) -> ServiceRuntime:
    return build_runtime(SERVICE, settings or PickupSettings(), bus)
