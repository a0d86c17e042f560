"""Scores say when loyalty is not available, and carry lifetime value; training runs carry their window.

Revision ID: 20261206_0009
Revises: 20261206_0008
Create Date: 2026-12-06

- A model trained before anyone answered an NPS survey has no loyalty part: its scores keep
  loyalty NULL with the reason, instead of a number nobody could have learnt.
- Every score carries the customer's lifetime value over the model's horizon (expected
  purchases and value, P(alive)) from the purchase-history model, when the customer has
  bought before; the value-vulnerability matrix uses the expected value where the CRM sent none.
- A training run records the horizon and the as-of date it was asked for, and the label
  policy it ran with.
"""

from alembic import op

revision = "20261206_0009"
down_revision = "20261206_0008"
branch_labels = None
depends_on = None

UPGRADE = r"""
ALTER TABLE scores
    ALTER COLUMN loyalty DROP NOT NULL,
    ADD COLUMN loyalty_unavailable text,
    ADD COLUMN expected_purchases double precision CHECK (expected_purchases >= 0),
    ADD COLUMN expected_value double precision CHECK (expected_value >= 0),
    ADD COLUMN probability_alive double precision CHECK (probability_alive BETWEEN 0 AND 1),
    -- a score either has a loyalty figure or says why not
    ADD CONSTRAINT scores_loyalty_or_reason CHECK ((loyalty IS NULL) = (loyalty_unavailable IS NOT NULL));

ALTER TABLE training_runs
    ADD COLUMN horizon_days integer CHECK (horizon_days BETWEEN 7 AND 730),
    ADD COLUMN as_of timestamptz,
    ADD COLUMN labels text CHECK (labels IN ('contractual', 'non_contractual'));
"""

DOWNGRADE = r"""
ALTER TABLE training_runs DROP COLUMN IF EXISTS labels, DROP COLUMN IF EXISTS as_of,
                          DROP COLUMN IF EXISTS horizon_days;
-- the earlier schema has no way to say "not available": those scores go (they are derived data)
DELETE FROM scores WHERE loyalty IS NULL;
ALTER TABLE scores
    DROP CONSTRAINT IF EXISTS scores_loyalty_or_reason,
    DROP COLUMN IF EXISTS probability_alive,
    DROP COLUMN IF EXISTS expected_value,
    DROP COLUMN IF EXISTS expected_purchases,
    DROP COLUMN IF EXISTS loyalty_unavailable,
    ALTER COLUMN loyalty SET NOT NULL;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
