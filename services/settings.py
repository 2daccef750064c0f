"""Every setting of the service, in one place: environment variables prefixed NBGIS_, read once per process.

`nbgis serve` flags override them by setting the same variables for its worker processes, so a flag and a
variable always mean the same thing. Add a setting here, with its default and one line saying what it is.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from geo.layers import DATA_DIR

ENV_PREFIX = "NBGIS_"
DEFAULT_STORE = DATA_DIR.parent / "var" / "nbgis.gpkg"  # per checkout, beside data/; made on first start


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    store: str = Field(
        default=str(DEFAULT_STORE), description="Where the layers live: a GeoPackage path (sqlite:///PATH too), "
        "made and seeded from `data` when missing, or postgresql://USER@HOST:PORT/DB (PostGIS)")
    data: Path = Field(
        default=DATA_DIR, description="Data folder: the layers a new store is seeded with, the industry taxonomy, "
        "the indicators and the plan's text")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default=["*"], description="Origins whose web pages may call the API from the browser, comma-separated; "
        "* for any")
    default_limit: int = Field(default=10, ge=1, description="Features per page when a client gives no limit")
    max_limit: int = Field(default=10_000, ge=1, description="Largest page; larger limits are reduced to it")
    node_modules: Path | None = Field(
        default=None, description="The npm packages of package.json, the maps' scripts and styles (default: "
        "node_modules beside the code); read by maps.assets as NBGIS_NODE_MODULES")
    log_level: str = Field(default="info", description="critical, error, warning, info or debug")

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else value


@cache
def settings() -> Settings:
    """The settings, read from the environment on first use."""
    return Settings()
