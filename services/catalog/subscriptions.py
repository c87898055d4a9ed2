"""Event type → the catalog service's handlers."""

from libs.contracts.pickup import HubOpened
from services.catalog.use_cases import record_opened_hub

SUBSCRIPTIONS = {
    HubOpened: [record_opened_hub],
}
