"""Invitations can be read back: each keeps its history, and when its page was first opened.

Revision ID: 20261206_0016
Revises: 20261206_0009
Create Date: 2026-12-06

- `invitation_history` gets a row for every status, reason or channel an invitation takes, and
  one when its survey page is first opened, written by a trigger so no code path can forget it.
  Invitations made before this migration start with one row: what they are now.
- `opened_at`: when the survey page (or its unsubscribe page) was first loaded from the link.
- The CRM lists invitations newest first: an index on (created_at, id) for its pages.
"""

from alembic import op

revision = "20261206_0016"
down_revision = "20261206_0009"
branch_labels = None
depends_on = None

UPGRADE = r"""
ALTER TABLE invitations ADD COLUMN opened_at timestamptz;

CREATE TABLE invitation_history (
    -- orders the rows one transaction wrote at the same now()
    seq            bigint GENERATED ALWAYS AS IDENTITY,
    invitation_id  uuid NOT NULL REFERENCES invitations (id) ON DELETE CASCADE,
    at             timestamptz NOT NULL,
    -- a status the invitation took, or 'opened'
    event          text NOT NULL CHECK (event IN
                     ('scheduled','queued','sent','answered','suppressed','failed','expired','opened')),
    reason         text,
    channel        text CHECK (channel IN ('email','sms','web'))
);
CREATE INDEX invitation_history_invitation_idx ON invitation_history (invitation_id, seq);

CREATE FUNCTION record_invitation_history() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO invitation_history (invitation_id, at, event, reason, channel)
        VALUES (NEW.id, NEW.created_at, NEW.status, NEW.reason, NEW.channel);
        RETURN NULL;
    END IF;
    IF (NEW.status, NEW.reason, NEW.channel) IS DISTINCT FROM (OLD.status, OLD.reason, OLD.channel) THEN
        INSERT INTO invitation_history (invitation_id, at, event, reason, channel)
        VALUES (NEW.id, now(), NEW.status, NEW.reason, NEW.channel);
    END IF;
    IF NEW.opened_at IS NOT NULL AND OLD.opened_at IS NULL THEN
        INSERT INTO invitation_history (invitation_id, at, event, reason, channel)
        VALUES (NEW.id, NEW.opened_at, 'opened', NULL, NEW.channel);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER invitations_history AFTER INSERT OR UPDATE OF status, reason, channel, opened_at
    ON invitations FOR EACH ROW EXECUTE FUNCTION record_invitation_history();

INSERT INTO invitation_history (invitation_id, at, event, reason, channel)
SELECT id, updated_at, status, reason, channel FROM invitations;

CREATE INDEX invitations_created_idx ON invitations (created_at DESC, id DESC);
"""

DOWNGRADE = r"""
DROP INDEX IF EXISTS invitations_created_idx;
DROP TRIGGER IF EXISTS invitations_history ON invitations;
DROP FUNCTION IF EXISTS record_invitation_history();
DROP TABLE IF EXISTS invitation_history;
ALTER TABLE invitations DROP COLUMN IF EXISTS opened_at;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
