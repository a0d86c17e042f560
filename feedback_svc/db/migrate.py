"""Alembic, driven from code: `feedback-svc migrate`, start-up and tests share it.

Only what changes the schema needs alembic; the revisions are read without it (db/revisions.py).
"""

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from feedback_svc.db.revisions import current_revision, head_revision, migrations_dir

__all__ = ["alembic_head_revision", "current_revision", "downgrade", "head_revision", "upgrade"]


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    # alembic reads interpolation from this value; escape the % of encoded URLs
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


def alembic_head_revision() -> str:
    """The head as alembic reads it (revisions.head_revision must agree)."""
    script = ScriptDirectory.from_config(alembic_config("postgresql://unused"))
    head = script.get_current_head()
    assert head is not None, "migrations/ has no revisions"
    return head
