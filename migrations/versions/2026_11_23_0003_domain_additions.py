"""Recovery queue, webhooks and console additions to the first schema.

Revision ID: 20261123_0003
Revises: 20261123_0002
Create Date: 2026-11-23
"""

from alembic import op

revision = "20261123_0003"
down_revision = "20261123_0002"
branch_labels = None
depends_on = None

# Each domain keeps its statements in its own section; the downgrade undoes them in reverse.

UPGRADE = r"""
-- recovery

-- webhooks

-- console

SELECT 1;
"""

DOWNGRADE = r"""
-- console

-- webhooks

-- recovery

SELECT 1;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
