"""Scheduled scoring runs, their id ranges, and the proactive intake with its daily limit.

Revision ID: 20261206_0013
Revises: 20261206_0010
Create Date: 2026-12-06

- `scoring_runs`: one row per scoring of every active customer (on the schedule, or asked for),
  with what it scored, how many proactive tasks it opened and how many at-risk customers the
  daily limit left out. At most one runs at a time (a partial unique index), whichever process
  started it.
- `scoring_run_ranges`: a run's customers cut into id ranges (keyset) when it starts. A process
  takes a range by locking its row (SKIP LOCKED) for the transaction that stores the range's
  scores and marks it done, so a crash gives the range back whole and the run resumes, never
  restarts.
- `proactive_intake`: every at-risk score on its way into the recovery queue (one row per score):
  a run's candidates until the run decides, then `queued` (a task was opened for it), `left_out`
  (the day's limit was reached) or `already_queued` (the customer has an open task, or was queued
  today). The day's `queued` rows are the daily limit's ledger, whichever path opened them.
"""

from alembic import op

revision = "20261206_0013"
down_revision = "20261206_0010"
branch_labels = None
depends_on = None

UPGRADE = r"""
CREATE TABLE scoring_runs (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    status             text NOT NULL DEFAULT 'running' CHECK (status IN ('running','succeeded','failed')),
    -- what started it: the schedule, POST /v1/scoring/runs, or `feedback-svc score-all`
    trigger            text NOT NULL CHECK (trigger IN ('schedule','api','cli')),
    requested_by       text NOT NULL,
    -- every range of a run is scored with the model that was active when it started
    model_version      text NOT NULL,
    -- which scores were at risk: {"kind", "threshold", "text"}
    at_risk_rule       jsonb NOT NULL,
    daily_limit        integer NOT NULL CHECK (daily_limit >= 0),
    batch_size         integer NOT NULL CHECK (batch_size > 0),
    ranges             integer NOT NULL DEFAULT 0,
    -- the totals, written when the run finishes (while it runs they are summed from its ranges)
    customers_scored   integer NOT NULL DEFAULT 0,
    customers_skipped  integer NOT NULL DEFAULT 0,
    at_risk            integer NOT NULL DEFAULT 0,
    tasks_opened       integer NOT NULL DEFAULT 0,
    already_queued     integer NOT NULL DEFAULT 0,
    left_out           integer NOT NULL DEFAULT 0,
    message            text,
    error              text,
    started_at         timestamptz NOT NULL DEFAULT now(),
    finished_at        timestamptz
);
CREATE UNIQUE INDEX scoring_runs_one_running_idx ON scoring_runs (status) WHERE status = 'running';
CREATE INDEX scoring_runs_started_idx ON scoring_runs (started_at DESC);

CREATE TABLE scoring_run_ranges (
    run_id       uuid NOT NULL REFERENCES scoring_runs (id) ON DELETE CASCADE,
    n            integer NOT NULL,
    -- customers with after_id < id <= last_id; NULL: from the first id / to the last one
    after_id     uuid,
    last_id      uuid,
    status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','done','failed')),
    attempts     integer NOT NULL DEFAULT 0,
    scored       integer NOT NULL DEFAULT 0,
    skipped      integer NOT NULL DEFAULT 0,
    at_risk      integer NOT NULL DEFAULT 0,
    last_error   text,
    finished_at  timestamptz,
    PRIMARY KEY (run_id, n)
);
CREATE INDEX scoring_run_ranges_pending_idx ON scoring_run_ranges (run_id, n) WHERE status = 'pending';

CREATE TABLE proactive_intake (
    score_id           bigint PRIMARY KEY REFERENCES scores (id) ON DELETE CASCADE,
    customer_id        uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    -- NULL: a score the API stored (POST /v1/scores), decided when its event was handled
    run_id             uuid REFERENCES scoring_runs (id) ON DELETE SET NULL,
    status             text NOT NULL CHECK (status IN ('candidate','queued','left_out','already_queued')),
    -- the UTC day the decision counts against; NULL while a candidate
    day                date,
    churn_probability  double precision NOT NULL,
    value_at_risk      double precision NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    decided_at         timestamptz,
    CHECK ((status = 'candidate') = (day IS NULL))
);
-- the daily limit's count and the queue's "left out today"
CREATE INDEX proactive_intake_day_idx ON proactive_intake (day, status);
-- a run's candidates, highest value at risk first
CREATE INDEX proactive_intake_candidates_idx ON proactive_intake (run_id, value_at_risk DESC)
    WHERE status = 'candidate';
CREATE INDEX proactive_intake_customer_idx ON proactive_intake (customer_id, day);
"""

DOWNGRADE = r"""
DROP TABLE IF EXISTS proactive_intake;
DROP TABLE IF EXISTS scoring_run_ranges;
DROP TABLE IF EXISTS scoring_runs;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
