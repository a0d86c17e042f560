"""A touchpoint's rule names the channel it prefers and may override its survey's cooldown.

Revision ID: 20261206_0019
Revises: 20261206_0018
Create Date: 2026-12-06

- `touchpoints.channel_preference`: email, sms or web; NULL: the interaction's own preference,
  else email before SMS. An interaction that names a channel still wins: the CRM knows the case.
- `touchpoints.cooldown`: how long after the customer's last invitation this touchpoint may
  survey them again; NULL: its survey's cooldown. A critical touchpoint (a cancellation, say)
  may want a shorter one than the relationship survey's 30 days.
"""

from alembic import op

revision = "20261206_0019"
down_revision = "20261206_0018"
branch_labels = None
depends_on = None

UPGRADE = r"""
ALTER TABLE touchpoints
    ADD COLUMN channel_preference text CHECK (channel_preference IN ('email', 'sms', 'web')),
    ADD COLUMN cooldown interval CHECK (cooldown >= interval '0');
"""

DOWNGRADE = r"""
ALTER TABLE touchpoints DROP COLUMN IF EXISTS cooldown, DROP COLUMN IF EXISTS channel_preference;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
