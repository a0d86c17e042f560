"""Each console user reads times in their own time zone.

Revision ID: 20261206_0007
Revises: 20261206_0006
Create Date: 2026-12-06

Deadlines, leases and history were shown in UTC to everyone. Existing accounts keep UTC
until their owner picks a zone on the console's home page.
"""

from alembic import op

revision = "20261206_0007"
down_revision = "20261206_0006"
branch_labels = None
depends_on = None

UPGRADE = r"""
-- an IANA name (Europe/Berlin), checked against the zoneinfo database by the service
ALTER TABLE users ADD COLUMN time_zone text NOT NULL DEFAULT 'UTC'
    CHECK (length(time_zone) BETWEEN 1 AND 64);
"""

DOWNGRADE = r"""
ALTER TABLE users DROP COLUMN IF EXISTS time_zone;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
