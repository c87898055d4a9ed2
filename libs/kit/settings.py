"""Service settings from the environment: ``ADOPTE_<SERVICE>_<NAME>`` wins over ``ADOPTE_<NAME>``,
so one variable can configure every service and one service can still differ."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ADOPTE_", extra="ignore")

    data_dir: Path = Path("var")
    database_url: str | None = None
    bus: Literal["embedded", "kafka"] = "embedded"
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    topic_partitions: int = 3
    outbox_relay: bool = True
    log_level: str = "INFO"
    log_json: bool = True

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        shared = EnvSettingsSource(settings_cls, env_prefix="ADOPTE_")
        return init_settings, env_settings, shared, dotenv_settings, file_secret_settings

    def database_url_for(self, service: str) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / f'{service}.sqlite3').as_posix()}"

    @property
    def bus_path(self) -> Path:
        return self.data_dir / "bus.sqlite3"

