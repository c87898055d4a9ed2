"""Event contracts: the envelope, the registry, and one module of typed events per producer.

Importing this package registers every event, so ``registry`` can decode any of them.
"""

from libs.contracts import accounts, catalog, order, payment, pickup  # noqa: F401  (registers events)
from libs.contracts.base import Event, registry
from libs.contracts.envelope import Envelope
from libs.contracts.registry import ContractError, InvalidEvent, UnknownEvent

__all__ = ["ContractError", "Envelope", "Event", "InvalidEvent", "UnknownEvent", "registry"]
