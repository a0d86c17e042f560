"""One queued or running training run per model kind, held by the database.

Revision ID: 20261206_0008
Revises: 20261206_0007
Create Date: 2026-12-06

Every POST /v1/models/training-runs used to queue another run (a fuzzer queued 255), each a
full training. A partial unique index lets at most one run per kind be queued or running, so
concurrent requests from any number of processes agree on which run is the one. Runs that
already wait beside another are closed first: the running one (or else the oldest) stays.
"""

from alembic import op

revision = "20261206_0008"
down_revision = "20261206_0007"
branch_labels = None
depends_on = None

UPGRADE = r"""
WITH ranked AS (
    SELECT id, row_number() OVER (
               PARTITION BY kind ORDER BY (status = 'running') DESC, created_at, id
           ) AS place
      FROM training_runs
     WHERE status IN ('queued', 'running')
)
UPDATE training_runs r
   SET status = 'failed', finished_at = now(),
       message = 'not run: another training of this kind was already queued or running',
       error = 'superseded'
  FROM ranked
 WHERE r.id = ranked.id AND ranked.place > 1;

CREATE UNIQUE INDEX training_runs_one_active_idx ON training_runs (kind)
    WHERE status IN ('queued', 'running');
"""

DOWNGRADE = r"""
DROP INDEX IF EXISTS training_runs_one_active_idx;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
