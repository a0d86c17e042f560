"""Scoring, recovery queue, webhooks and console additions to the first schema.

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
-- operations: a scope that can read /metrics and nothing else
ALTER TABLE api_keys DROP CONSTRAINT api_keys_scopes_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_scopes_check
    CHECK (scopes <@ ARRAY['crm','agent','admin','metrics']::text[] AND cardinality(scopes) > 0);

-- operations: rate-limit windows shared by every replica. UNLOGGED: a crash may forget a
-- minute of counts, which costs nothing, and skipping the WAL keeps the flushes cheap.
CREATE UNLOGGED TABLE rate_limit_hits (
    bucket        text NOT NULL,
    window_start  timestamptz NOT NULL,
    hits          integer NOT NULL,
    PRIMARY KEY (bucket, window_start)
);

-- scoring
-- what the CRM and the recovery queue read with a score, kept with it
ALTER TABLE scores
    ADD COLUMN value_at_risk double precision NOT NULL DEFAULT 0 CHECK (value_at_risk >= 0),
    ADD COLUMN loyalty_index smallint CHECK (loyalty_index BETWEEN 0 AND 100),
    ADD COLUMN imputed text[] NOT NULL DEFAULT '{}';
-- Every activation and rollback, so "roll back" knows what served before and
-- people can see who switched models and why.
CREATE TABLE model_activations (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind               text NOT NULL,
    action             text NOT NULL CHECK (action IN ('activate','rollback')),
    -- NULL: the shipped baseline (no registry model active)
    model_id           uuid REFERENCES models (id) ON DELETE CASCADE,
    previous_model_id  uuid REFERENCES models (id) ON DELETE SET NULL,
    forced             boolean NOT NULL DEFAULT false,
    reason             text NOT NULL,
    actor              text NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX model_activations_kind_idx ON model_activations (kind, id DESC);
-- Training runs asked for over the API; an outbox job does the work and reports here.
CREATE TABLE training_runs (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kind           text NOT NULL DEFAULT 'churn_loyalty',
    status         text NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued','running','succeeded','failed')),
    activate       boolean NOT NULL DEFAULT false,
    force          boolean NOT NULL DEFAULT false,
    requested_by   text NOT NULL,
    progress       double precision NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 1),
    message        text,
    model_version  text,
    activated      boolean,
    error          text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    started_at     timestamptz,
    finished_at    timestamptz
);
CREATE INDEX training_runs_created_idx ON training_runs (created_at DESC);

-- recovery
-- Trigger rules: how urgent each kind of signal is and how soon we promise contact;
-- critical touchpoints and high-value customers get the shorter of their deadlines.
CREATE TABLE recovery_rules (
    trigger              text PRIMARY KEY CHECK (trigger IN
                           ('contact_requested','nps_detractor','csat_low','ces_high_effort','churn_risk')),
    enabled              boolean NOT NULL DEFAULT true,
    urgency              double precision NOT NULL CHECK (urgency BETWEEN 0 AND 1),
    deadline             interval NOT NULL CHECK (deadline > interval '0'),
    critical_deadline    interval NOT NULL CHECK (critical_deadline > interval '0'),
    high_value_deadline  interval NOT NULL CHECK (high_value_deadline > interval '0'),
    updated_at           timestamptz NOT NULL DEFAULT now()
);
INSERT INTO recovery_rules (trigger, urgency, deadline, critical_deadline, high_value_deadline) VALUES
    ('contact_requested', 1.0, '4 hours',  '2 hours',  '2 hours'),
    ('nps_detractor',     0.6, '24 hours', '8 hours',  '12 hours'),
    ('csat_low',          0.6, '24 hours', '8 hours',  '12 hours'),
    ('ces_high_effort',   0.5, '48 hours', '24 hours', '24 hours'),
    ('churn_risk',        0.4, '72 hours', '72 hours', '48 hours');
-- who holds the lease (assignee is the owner, which a claim does not change)
ALTER TABLE recovery_tasks ADD COLUMN lease_holder text;
-- a churn score fires its trigger once
CREATE UNIQUE INDEX recovery_evidence_score_idx ON recovery_evidence (score_id, trigger)
    WHERE score_id IS NOT NULL;
-- the escalation sweep reads overdue, never-contacted tasks in deadline order
CREATE INDEX recovery_tasks_overdue_idx ON recovery_tasks (deadline_at)
    WHERE status = 'open' AND escalated_at IS NULL AND first_contact_at IS NULL;
CREATE INDEX recovery_tasks_resolved_idx ON recovery_tasks (resolved_at) WHERE status = 'resolved';

-- webhooks
-- After a rotation the old secret keeps signing beside the new one for a while, so a
-- receiver can switch without dropping a message.
ALTER TABLE webhook_endpoints
    ADD COLUMN previous_secret        text,
    ADD COLUMN previous_secret_until  timestamptz,
    ADD COLUMN updated_at             timestamptz NOT NULL DEFAULT now();
-- event_id orders deliveries of one customer as their events were written; locked_by
-- makes settling a delivery conditional on still holding its lease.
ALTER TABLE webhook_deliveries
    ADD COLUMN event_id         bigint,
    ADD COLUMN locked_by        text,
    ADD COLUMN last_attempt_at  timestamptz;
-- the ordering rule: is an earlier delivery of this customer to this endpoint unfinished?
CREATE INDEX webhook_deliveries_order_idx ON webhook_deliveries (endpoint_id, ordering_key, event_id)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, id);
-- ... and is an earlier event of this customer not yet fanned out?
CREATE INDEX outbox_pending_events_idx ON outbox (ordering_key, id)
    WHERE status = 'pending' AND topic = 'event';

-- console

SELECT 1;
"""

DOWNGRADE = r"""
-- console

-- webhooks
DROP INDEX IF EXISTS outbox_pending_events_idx;
DROP INDEX IF EXISTS webhook_deliveries_endpoint_idx;
DROP INDEX IF EXISTS webhook_deliveries_order_idx;
ALTER TABLE webhook_deliveries
    DROP COLUMN IF EXISTS last_attempt_at,
    DROP COLUMN IF EXISTS locked_by,
    DROP COLUMN IF EXISTS event_id;
ALTER TABLE webhook_endpoints
    DROP COLUMN IF EXISTS updated_at,
    DROP COLUMN IF EXISTS previous_secret_until,
    DROP COLUMN IF EXISTS previous_secret;

-- recovery
DROP INDEX IF EXISTS recovery_tasks_resolved_idx;
DROP INDEX IF EXISTS recovery_tasks_overdue_idx;
DROP INDEX IF EXISTS recovery_evidence_score_idx;
ALTER TABLE recovery_tasks DROP COLUMN IF EXISTS lease_holder;
DROP TABLE IF EXISTS recovery_rules;

-- scoring
DROP TABLE IF EXISTS training_runs;
DROP TABLE IF EXISTS model_activations;
ALTER TABLE scores DROP COLUMN IF EXISTS imputed, DROP COLUMN IF EXISTS loyalty_index,
    DROP COLUMN IF EXISTS value_at_risk;

-- operations
DROP TABLE IF EXISTS rate_limit_hits;
DELETE FROM api_keys WHERE scopes && ARRAY['metrics']::text[];
ALTER TABLE api_keys DROP CONSTRAINT api_keys_scopes_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_scopes_check
    CHECK (scopes <@ ARRAY['crm','agent','admin']::text[] AND cardinality(scopes) > 0);

SELECT 1;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
