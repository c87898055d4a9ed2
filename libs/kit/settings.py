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
    # A service brings its database to the head revision as it starts; false: it refuses to start
    # on one behind it, and `adopte migrate` is a release step (several replicas, a DBA...).
    migrate_on_start: bool = True
    log_level: str = "INFO"
    log_json: bool = True
    # Whose X-Forwarded-For is believed: the gateway's address, or "*" where nothing but the
    # gateway reaches a service. Behind a proxy not believed, every visitor has the proxy's
    # address, and the sign-in throttle per address would lock them all out together.
    forwarded_allow_ips: str = "127.0.0.1"
    jwt_public_key_file: Path | None = None
    jwt_private_key_file: Path | None = None

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

    def jwt_key_files(self) -> tuple[Path | None, Path]:
        """(private, public) key files; without settings, a pair kept under the data dir, which
        suits one machine (embedded, or every service on one host)."""
        if self.jwt_public_key_file:
            return self.jwt_private_key_file, self.jwt_public_key_file
        from libs.auth.tokens import ensure_keypair

        return ensure_keypair(self.data_dir / "keys")

    @property
    def bus_path(self) -> Path:
        return self.data_dir / "bus.sqlite3"

