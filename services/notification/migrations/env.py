"""Alembic environment of the notification service (see libs/kit/migrations.py)."""

from libs.kit.migrations import run_environment
from services.notification.bootstrap import SERVICE, SERVICE_SETTINGS

run_environment(SERVICE.metadata, lambda: SERVICE_SETTINGS().database_url_for(SERVICE.name))
