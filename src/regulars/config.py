"""One settings object for the whole tool.

Values come, highest priority first, from explicit arguments (CLI options), ``REGULARS_*``
environment variables, a TOML file (``regulars.toml`` in the working directory, or the
path in ``REGULARS_CONFIG``) and the defaults below.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

Period = Literal["week", "month", "quarter", "year"]


def _config_file() -> Path:
    return Path(os.environ.get("REGULARS_CONFIG", "regulars.toml"))


class Settings(BaseSettings):
    """Analysis settings shared by the CLI, the report and the Python API."""

    model_config = SettingsConfigDict(env_prefix="REGULARS_", extra="ignore")

    timezone: str = Field(
        "UTC",
        description="Shop's IANA time zone; periods follow it. Unset, order times keep "
        "the UTC offset they were written with, or are UTC without one (shop_timezone).",
    )
    locale: str = Field(
        "en_US",
        description="How the report and the terminal write numbers, money and dates "
        "(a CLDR locale such as en_US, de_DE, fr_FR).",
    )
    currency: str | None = Field(
        None,
        description="ISO 4217 code of the shop's currency; unset, the orders' own "
        "currency column decides.",
    )
    activity_window_days: int = Field(
        365, ge=1, description="A customer is active at a moment if they bought this recently."
    )
    period: Period = Field("month", description="Reporting period for trends and cohorts.")
    retention_definition: Literal["activity_window", "repeat"] = "activity_window"
    target_crr: float | None = Field(
        None, ge=0, le=100, description="Retention goal in percent; suggested when unset."
    )
    acquisition_cost: Decimal | None = Field(None, ge=0, description="Average cost to acquire.")
    margin: Decimal | None = Field(None, gt=0, le=1, description="Gross margin, 0..1.")
    refresh_hour: int = Field(
        3,
        ge=0,
        le=23,
        description="Local hour (shop time zone) of the worker's nightly scores refresh.",
    )
    refresh_threads: int = Field(
        1,
        ge=1,
        description="CPU threads (OpenMP/BLAS) the scores refresh's models may use.",
    )
    job_retention_days: int = Field(
        30,
        ge=1,
        description="Days a finished (done) job row is kept before the nightly jobs.prune "
        "deletes it; failed jobs are kept until an operator retries or deletes them.",
    )
    database_url: str = Field(
        "sqlite:///regulars.db",
        description="The operational store: sqlite:///path.db or postgresql://user@host/db.",
    )
    database_pool_size: int = Field(
        16,
        ge=1,
        description="Connections each API worker process keeps to the store: the requests "
        "it serves at once (more wait for a free connection). Workers × this must stay "
        "below PostgreSQL's max_connections.",
    )
    secret_key: SecretStr | None = Field(
        None,
        description="Server secret for keyed hashes (pseudonyms of erased customers); "
        "REGULARS_SECRET_KEY. Unset: kept in a file next to a SQLite database.",
    )

    @property
    def shop_timezone(self) -> str | None:
        """The time zone the user set (an argument, ``REGULARS_TIMEZONE`` or
        ``regulars.toml``); None when ``timezone`` is only the default. Order times
        without an offset are then read as UTC, and the report says so."""
        return self.timezone if "timezone" in self.model_fields_set else None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=_config_file())
        return init_settings, env_settings, toml
