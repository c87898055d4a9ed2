"""The notification service's app: ``adopte serve notification``, or mounted in the embedded
runtime."""

from __future__ import annotations

from fastapi import FastAPI

from libs.kit.app import create_service_app
from libs.messaging.port import EventBus
from services.notification import bootstrap


def create_app(settings: bootstrap.NotificationSettings | None = None, bus: EventBus | None = None
               ) -> FastAPI:
    return create_service_app(lambda: bootstrap.build(settings, bus))
