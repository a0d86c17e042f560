"""Reminders for unanswered invitations: how many and after how long, per touchpoint rule.

Revision ID: 20261206_0010
Revises: 20261206_0011
Create Date: 2026-12-06

- A touchpoint's rule says how many reminders an unanswered invitation gets and how long after
  the invitation (or the previous reminder) each one goes. NULL means the service's default
  (FEEDBACK_REMINDER_COUNT, FEEDBACK_REMINDER_DELAY_HOURS: one reminder after three days); 0
  turns reminders off for that touchpoint.
- Each reminder is one row per (invitation, number): the natural key its outbox job is deduped
  by, so a crash or a second worker never sends one twice. The invitation keeps how many went
  out and when the last one did, and its history a 'reminded' step for each, where the CRM
  reads them.
"""

from alembic import op

revision = "20261206_0010"
down_revision = "20261206_0011"
branch_labels = None
depends_on = None

UPGRADE = r"""
ALTER TABLE touchpoints
    ADD COLUMN reminder_count smallint CHECK (reminder_count BETWEEN 0 AND 3),
    ADD COLUMN reminder_delay interval
        CHECK (reminder_delay BETWEEN interval '1 hour' AND interval '30 days');

ALTER TABLE invitations
    ADD COLUMN reminders_sent smallint NOT NULL DEFAULT 0 CHECK (reminders_sent BETWEEN 0 AND 3),
    ADD COLUMN last_reminded_at timestamptz;

CREATE TABLE invitation_reminders (
    invitation_id  uuid NOT NULL REFERENCES invitations (id) ON DELETE CASCADE,
    number         smallint NOT NULL CHECK (number BETWEEN 1 AND 3),
    -- scheduled: its outbox job waits for due_at; sending: checked and handed to the channel
    -- (a crash here sends again, with the same Message-ID or SMS idempotency key); skipped:
    -- not worth sending when it came due (answered, opted out, link expired, turned off)
    status         text NOT NULL DEFAULT 'scheduled'
                     CHECK (status IN ('scheduled', 'sending', 'sent', 'skipped', 'failed')),
    -- the channel it went (or goes) by: the invitation's, unless that was opted out since
    channel        text CHECK (channel IN ('email', 'sms')),
    due_at         timestamptz NOT NULL,
    sent_at        timestamptz,
    reason         text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (invitation_id, number),
    CHECK ((status = 'sent') = (sent_at IS NOT NULL))
);

ALTER TABLE invitation_history DROP CONSTRAINT invitation_history_event_check;
ALTER TABLE invitation_history ADD CONSTRAINT invitation_history_event_check CHECK (event IN
    ('scheduled','queued','sent','answered','suppressed','failed','expired','opened','reminded'));
"""

DOWNGRADE = r"""
DELETE FROM invitation_history WHERE event = 'reminded';
ALTER TABLE invitation_history DROP CONSTRAINT invitation_history_event_check;
ALTER TABLE invitation_history ADD CONSTRAINT invitation_history_event_check CHECK (event IN
    ('scheduled','queued','sent','answered','suppressed','failed','expired','opened'));
DROP TABLE IF EXISTS invitation_reminders;
ALTER TABLE invitations DROP COLUMN IF EXISTS last_reminded_at, DROP COLUMN IF EXISTS reminders_sent;
ALTER TABLE touchpoints DROP COLUMN IF EXISTS reminder_delay, DROP COLUMN IF EXISTS reminder_count;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
