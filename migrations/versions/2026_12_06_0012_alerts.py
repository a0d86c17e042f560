"""Alerts to the team, and escalation that raises a task's priority.

Revision ID: 20261206_0012
Revises: 20261206_0015
Create Date: 2026-12-06

- alert_rules: for each alert trigger (contact_request, high_value_detractor, deadline_near,
  escalated) and task urgency (normal, urgent), who hears about it: the task's owner, console
  users by role or id, email addresses, Slack-compatible incoming-webhook URLs.
- alerts: every alert, one row per task, trigger, occasion and recipient (the unique key bounds
  repeats), sent by a background runner that claims rows like the webhook deliveries.
- recovery_tasks.deadline_alerted_at: the sweep marks a task whose deadline is near once, in the
  transaction that writes its alerts (reopening a task clears it, like escalated_at).
"""

from alembic import op

revision = "20261206_0012"
down_revision = "20261206_0015"
branch_labels = None
depends_on = None

UPGRADE = r"""
CREATE TABLE alert_rules (
    trigger     text NOT NULL CHECK (trigger IN
                  ('contact_request','high_value_detractor','deadline_near','escalated')),
    urgency     text NOT NULL CHECK (urgency IN ('normal','urgent')),
    enabled     boolean NOT NULL DEFAULT true,
    -- {"owner": bool, "roles": [...], "users": [uuid, ...], "emails": [...], "slack": [url, ...]}
    recipients  jsonb NOT NULL CHECK (jsonb_typeof(recipients) = 'object'),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (trigger, urgency)
);
-- The owner (every agent while nobody owns the task) always; managers too when it is urgent,
-- and for every escalation.
INSERT INTO alert_rules (trigger, urgency, recipients) VALUES
    ('contact_request',      'normal', '{"owner": true}'),
    ('contact_request',      'urgent', '{"owner": true, "roles": ["manager"]}'),
    ('high_value_detractor', 'normal', '{"owner": true}'),
    ('high_value_detractor', 'urgent', '{"owner": true, "roles": ["manager"]}'),
    ('deadline_near',        'normal', '{"owner": true}'),
    ('deadline_near',        'urgent', '{"owner": true, "roles": ["manager"]}'),
    ('escalated',            'normal', '{"owner": true, "roles": ["manager"]}'),
    ('escalated',            'urgent', '{"owner": true, "roles": ["manager"]}');

CREATE TABLE alerts (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_id          uuid NOT NULL REFERENCES recovery_tasks (id) ON DELETE CASCADE,
    trigger          text NOT NULL CHECK (trigger IN
                       ('contact_request','high_value_detractor','deadline_near','escalated')),
    urgency          text NOT NULL CHECK (urgency IN ('normal','urgent')),
    -- which time the trigger fired: '' for the once-per-task triggers; the escalation or the
    -- deadline-near mark for the others, so a reopened task can be alerted about again
    occasion         text NOT NULL DEFAULT '',
    channel          text NOT NULL CHECK (channel IN ('email','slack')),
    -- an email address or an incoming-webhook URL
    recipient        text NOT NULL CHECK (length(recipient) BETWEEN 3 AND 2000),
    -- the console user it is for, when it is for one (their time zone, disabled accounts)
    user_id          uuid REFERENCES users (id) ON DELETE SET NULL,
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','sent','failed','cancelled')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    locked_by        text,
    locked_until     timestamptz,
    -- the message that carries it (the id of the first alert in it): alerts waiting for the same
    -- recipient go out together, and a retry sends the same message with the same id
    message_key      bigint,
    -- why it failed or was cancelled
    error            text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    sent_at          timestamptz,
    UNIQUE (task_id, trigger, occasion, channel, recipient)
);
CREATE INDEX alerts_due_idx ON alerts (next_attempt_at, id) WHERE status = 'pending';
-- a claim takes every due alert of the recipients it picked
CREATE INDEX alerts_pending_recipient_idx ON alerts (channel, recipient) WHERE status = 'pending';
-- the per-recipient cap counts the messages sent in the last hour
CREATE INDEX alerts_recipient_sent_idx ON alerts (channel, recipient, sent_at) WHERE status = 'sent';
CREATE INDEX alerts_task_idx ON alerts (task_id, id);
-- the failed-alerts gauge at every scrape
CREATE INDEX alerts_failed_idx ON alerts (id) WHERE status = 'failed';

ALTER TABLE recovery_tasks ADD COLUMN deadline_alerted_at timestamptz;
-- the sweep's deadline-near check reads these in deadline order
CREATE INDEX recovery_tasks_deadline_near_idx ON recovery_tasks (deadline_at)
    WHERE status = 'open' AND deadline_alerted_at IS NULL AND first_contact_at IS NULL AND NOT control;
-- the managers' view: open escalated tasks
CREATE INDEX recovery_tasks_escalated_idx ON recovery_tasks (escalated_at)
    WHERE status = 'open' AND escalated_at IS NOT NULL;
"""

DOWNGRADE = r"""
DROP INDEX IF EXISTS recovery_tasks_escalated_idx;
DROP INDEX IF EXISTS recovery_tasks_deadline_near_idx;
-- escalation points leave the priority with the column that explains them
UPDATE recovery_tasks t
   SET priority = t.priority - coalesce((SELECT sum((r->>'points')::float8)
                                           FROM jsonb_array_elements(t.priority_reasons) r
                                          WHERE r->>'factor' = 'escalated'), 0),
       priority_reasons = coalesce((SELECT jsonb_agg(r)
                                      FROM jsonb_array_elements(t.priority_reasons) r
                                     WHERE r->>'factor' <> 'escalated'), '[]'::jsonb)
 WHERE t.priority_reasons @> '[{"factor": "escalated"}]';
ALTER TABLE recovery_tasks DROP COLUMN IF EXISTS deadline_alerted_at;
DROP TABLE IF EXISTS alerts;
DROP TABLE IF EXISTS alert_rules;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
