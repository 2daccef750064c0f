"""The service's settings, in one place: read once from the environment (prefix NBGIS_), overridable by the CLI.

Lists are comma-separated in the environment: `NBGIS_TRUSTED_HOSTS=gis.nb.gov.cn,10.0.0.5`. `nbgis serve` flags
set the same variables for its worker processes, so a flag and a variable always mean the same thing.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from geo.seed import DATA_DIR

CommaList = Annotated[list[str], NoDecode]
ENV_PREFIX = "NBGIS_"
DEFAULT_STORE = DATA_DIR.parent / "var" / "nbgis.gpkg"  # per checkout, beside data/; made on first start


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    # The layers. Where they live: a GeoPackage path (sqlite:///PATH too), made and seeded from `data` when
    # missing, or postgresql://USER@HOST:PORT/DB (PostGIS, shared by several instances).
    store: str = str(DEFAULT_STORE)
    # The layers a new store is seeded with, and the industry taxonomy, the indicators and the plan's text.
    data: Path = DATA_DIR
    default_limit: int = Field(default=10, ge=1)  # features per page when a client gives no limit
    max_limit: int = Field(default=10_000, ge=1)  # the largest page; larger limits are reduced to it, not refused
    # The npm packages of package.json (the maps' scripts and styles); default node_modules beside the code.
    # maps.assets reads it as NBGIS_NODE_MODULES.
    node_modules: Path | None = None
    log_level: str = "info"  # of the service's own log (store versions, outages, 5xx with request ids)
    # FastAPI's own OpenTelemetry (traces, metrics and logs to the process's global providers): off unless asked
    # for, since even with no provider set up it looks for one on every request (~15 % of a cached answer's time).
    telemetry: bool = False

    # Links. Every link the service writes starts with public_url when it is set (behind a proxy: the address
    # users see); otherwise with the Host the client sent, which must then be one of trusted_hosts.
    public_url: str | None = None
    trusted_hosts: CommaList = Field(default_factory=lambda: ["localhost", "127.0.0.1", "[::1]", "::1"])
    # Proxies whose X-Forwarded-For/-Proto are believed (uvicorn's forwarded_allow_ips); none by default.
    forwarded_allow_ips: CommaList = Field(default_factory=list)
    # Origins whose pages may call the API from a browser (reads only: the API is open data).
    cors_origins: CommaList = Field(default_factory=lambda: ["*"])
    # Reads are open data unless this is on: then every request but the landing page, /conformance, /api and the
    # static files needs a bearer token of any role (services.auth.ReadsNeedToken). Writes always need one.
    read_requires_token: bool = False
    # Who may show the HTML pages in a frame, as CSP frame-ancestors sources ('self', https://intranet.example).
    frame_ancestors: CommaList = Field(default_factory=lambda: ["'self'"])

    # Connections (enforced by services.server's protocol; a reverse proxy should enforce them too).
    header_timeout_s: float = 10.0  # a request's line and headers must arrive within this
    keep_alive_timeout_s: float = 5.0  # an idle kept-alive connection is closed after this
    max_headers: int = 100
    max_url_bytes: int = 64 * 1024  # the request's target (a 20,000-character filter, percent-encoded)
    max_header_bytes: int = 32 * 1024  # the header fields together
    max_connections: int = 1000  # open connections per worker; beyond, new ones are closed at once
    max_connections_per_client: int = 64  # per client address

    # Expensive requests (uploads, downloads, site look-ups in a CRS of the client's own).
    max_concurrent_uploads: int = 2  # per worker; others get 503 with Retry-After
    max_concurrent_downloads: int = 4  # files being written per worker
    request_time_budget_s: float = 60.0  # an expensive request still unanswered by then gets 503
    crs_builds_per_client: int = 30  # distinct CRS definitions one client may have built per minute
    max_json_depth: int = 32  # nesting of an uploaded GeoJSON document

    # Editing (OGC API - Features Part 4). A feature's body may be this large (a surveyed boundary of many
    # thousands of vertices). Writes to an existing feature need If-Match: its ETag as the writer read it, so no
    # change is overwritten unseen. QGIS sends no If-Match: an instance QGIS edits through may set this False
    # (writes without If-Match then replace what is there; writes with one are still checked).
    max_feature_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    max_import_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)  # a file of surveyed boundaries (POST /imports)
    require_if_match: bool = True

    @field_validator("trusted_hosts", "forwarded_allow_ips", "cors_origins", "frame_ancestors", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("public_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"public_url must start with http:// or https://, not {value!r}")
        return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
