"""The accounts service's app: ``adopte serve accounts``, or mounted in the embedded runtime."""

from __future__ import annotations

from fastapi import FastAPI

from libs.kit.app import create_service_app
from libs.messaging.port import EventBus
from services.accounts import bootstrap


def create_app(settings: bootstrap.AccountsSettings | None = None, bus: EventBus | None = None
               ) -> FastAPI:
    return create_service_app(lambda: bootstrap.build(settings, bus))
