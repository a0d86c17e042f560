"""Closing the loop: a message to the customer when a task is resolved, a pulse survey after it.

Revision ID: 20261206_0011
Revises: 20261206_0012
Create Date: 2026-12-06

- A resolved task may carry one closing message (email or SMS): what it said, by which channel,
  and whether it was queued, sent, failed or not sent (with the reason, e.g. an opt-out).
- The messages' templates, one per outcome and locale, are rows: a new language is data, and
  an admin edits them without a release. English and German ship here.
- A pulse is an ordinary invitation of the survey that triggered the task, marked with its
  purpose and linked to the task, so its answer is an ordinary answer of that survey.
"""

from alembic import op

revision = "20261206_0011"
down_revision = "20261206_0012"
branch_labels = None
depends_on = None

UPGRADE = r"""
ALTER TABLE recovery_tasks
    ADD COLUMN follow_up_channel text CHECK (follow_up_channel IN ('email', 'sms')),
    ADD COLUMN follow_up_status text CHECK (follow_up_status IN ('queued', 'sent', 'failed', 'not_sent')),
    -- why it waits, failed or was not sent; how it went once sent
    ADD COLUMN follow_up_reason text,
    -- 'template' (the outcome's template in follow_up_locale) or 'agent' (their own words)
    ADD COLUMN follow_up_source text CHECK (follow_up_source IN ('template', 'agent')),
    ADD COLUMN follow_up_locale text,
    -- the words as the customer reads them; NULL once the customer is erased
    ADD COLUMN follow_up_subject text,
    ADD COLUMN follow_up_text text CHECK (length(follow_up_text) <= 10000),
    ADD COLUMN follow_up_requested_at timestamptz,
    ADD COLUMN follow_up_sent_at timestamptz,
    -- when the pulse survey is due (NULL: none for this resolution)
    ADD COLUMN pulse_due_at timestamptz,
    ADD CONSTRAINT recovery_tasks_follow_up_complete
        CHECK ((follow_up_status IS NULL) = (follow_up_requested_at IS NULL));

CREATE TABLE recovery_message_templates (
    outcome     text NOT NULL CHECK (outcome IN
                  ('recovered', 'not_recovered', 'unreachable', 'no_action_needed')),
    -- lower case BCP 47: a customer's pt-BR reads pt-br, then pt, then en
    locale      text NOT NULL CHECK (locale ~ '^[a-z]{2,3}(-[a-z0-9]{2,8})*$'),
    subject     text NOT NULL CHECK (length(subject) BETWEEN 1 AND 200),
    greeting    text NOT NULL CHECK (length(greeting) BETWEEN 1 AND 200),
    body        text NOT NULL CHECK (length(body) BETWEEN 1 AND 5000),
    sms         text NOT NULL CHECK (length(sms) BETWEEN 1 AND 320),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    updated_by  text,
    PRIMARY KEY (outcome, locale)
);
INSERT INTO recovery_message_templates (outcome, locale, subject, greeting, body, sms) VALUES
('recovered', 'en', 'Thank you for talking with us', 'Hello {name},',
 E'Thank you for taking the time to talk with us about your experience. We are glad we could put things right, and we have passed on what you told us so that it does not happen again.\n\nKind regards,\n{agent}',
 '{brand}: Thank you for talking with us. We''re glad we could put things right. - {agent}'),
('not_recovered', 'en', 'Thank you for your feedback', 'Hello {name},',
 E'Thank you for talking with us about your experience. We are sorry we could not resolve everything to your satisfaction. What you told us has gone to the team responsible, so that we do better.\n\nKind regards,\n{agent}',
 '{brand}: Thank you for talking with us. We''re sorry we could not resolve everything; your feedback has gone to the team. - {agent}'),
('unreachable', 'en', 'We tried to reach you', 'Hello {name},',
 E'We tried to reach you about the feedback you gave us recently, but could not get through. We are sorry about your experience, and we have passed on what you told us so that we do better.\n\nKind regards,\n{agent}',
 '{brand}: We tried to reach you about your recent feedback. We''re sorry about your experience and have passed it on. - {agent}'),
('no_action_needed', 'en', 'Thank you for your feedback', 'Hello {name},',
 E'Thank you for your recent feedback. We have read it carefully and passed it on to the team.\n\nKind regards,\n{agent}',
 '{brand}: Thank you for your recent feedback. We have read it and passed it on. - {agent}'),
('recovered', 'de', 'Danke für das Gespräch', 'Hallo {name},',
 E'vielen Dank, dass Sie sich die Zeit genommen haben, mit uns über Ihre Erfahrung zu sprechen. Wir freuen uns, dass wir die Sache in Ordnung bringen konnten, und haben Ihre Hinweise weitergegeben, damit so etwas nicht wieder vorkommt.\n\nMit freundlichen Grüßen\n{agent}',
 '{brand}: Danke für das Gespräch. Schön, dass wir die Sache in Ordnung bringen konnten. - {agent}'),
('not_recovered', 'de', 'Danke für Ihr Feedback', 'Hallo {name},',
 E'vielen Dank für das Gespräch über Ihre Erfahrung. Es tut uns leid, dass wir nicht alles zu Ihrer Zufriedenheit lösen konnten. Ihre Hinweise sind an das zuständige Team gegangen, damit wir besser werden.\n\nMit freundlichen Grüßen\n{agent}',
 '{brand}: Danke für das Gespräch. Leider konnten wir nicht alles lösen; Ihre Hinweise haben wir weitergegeben. - {agent}'),
('unreachable', 'de', 'Wir haben versucht, Sie zu erreichen', 'Hallo {name},',
 E'wir haben versucht, Sie wegen Ihres Feedbacks zu erreichen, leider ohne Erfolg. Es tut uns leid, dass Sie eine schlechte Erfahrung gemacht haben. Ihre Hinweise haben wir weitergegeben, damit wir besser werden.\n\nMit freundlichen Grüßen\n{agent}',
 '{brand}: Wir haben versucht, Sie wegen Ihres Feedbacks zu erreichen. Es tut uns leid; Ihre Hinweise haben wir weitergegeben. - {agent}'),
('no_action_needed', 'de', 'Danke für Ihr Feedback', 'Hallo {name},',
 E'vielen Dank für Ihr Feedback. Wir haben es sorgfältig gelesen und an das Team weitergegeben.\n\nMit freundlichen Grüßen\n{agent}',
 '{brand}: Danke für Ihr Feedback. Wir haben es gelesen und an das Team weitergegeben. - {agent}');

-- pulse surveys: additive, so an invitation that says nothing is an ordinary survey
ALTER TABLE invitations
    ADD COLUMN purpose text NOT NULL DEFAULT 'survey' CHECK (purpose IN ('survey', 'pulse')),
    ADD COLUMN recovery_task_id uuid REFERENCES recovery_tasks (id) ON DELETE SET NULL;
-- one pulse per task, however often its job runs
CREATE UNIQUE INDEX invitations_pulse_task_idx ON invitations (recovery_task_id) WHERE purpose = 'pulse';
"""

DOWNGRADE = r"""
DROP INDEX IF EXISTS invitations_pulse_task_idx;
ALTER TABLE invitations DROP COLUMN IF EXISTS recovery_task_id, DROP COLUMN IF EXISTS purpose;
DROP TABLE IF EXISTS recovery_message_templates;
ALTER TABLE recovery_tasks
    DROP CONSTRAINT IF EXISTS recovery_tasks_follow_up_complete,
    DROP COLUMN IF EXISTS pulse_due_at,
    DROP COLUMN IF EXISTS follow_up_sent_at,
    DROP COLUMN IF EXISTS follow_up_requested_at,
    DROP COLUMN IF EXISTS follow_up_text,
    DROP COLUMN IF EXISTS follow_up_subject,
    DROP COLUMN IF EXISTS follow_up_locale,
    DROP COLUMN IF EXISTS follow_up_source,
    DROP COLUMN IF EXISTS follow_up_reason,
    DROP COLUMN IF EXISTS follow_up_status,
    DROP COLUMN IF EXISTS follow_up_channel;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
