"""The stores' schema, created and migrated by Alembic (geo/store/migrations), never by hand-run SQL.

Alembic and SQLAlchemy are imported only when a schema is made, migrated or asked for: a store already at
HEAD opens without them (0.3 s of imports each time a command starts).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlalchemy as sa
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
HEAD = "0002"  # this release's revision, the newest in migrations/versions (a test checks it is Alembic's head)
VERSION_TABLE = "alembic_version"  # where Alembic keeps a database's revision (one row, column version_num)


def _config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head() -> str:
    """The revision this release's schema is at, as Alembic reads the migrations."""
    from alembic.script import ScriptDirectory

    revision = ScriptDirectory.from_config(_config()).get_current_head()
    assert revision is not None
    return revision


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    """Migrate the database behind engine to `revision` (this release's: head), in one transaction."""
    from alembic import command

    config = _config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current(engine: sa.Engine) -> str | None:
    """The revision the database is at; None when it has no schema yet."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
