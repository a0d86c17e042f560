"""Default surveys and touchpoint rules, so a fresh install sends sensible surveys.

Revision ID: 20261123_0002
Revises: 20261123_0001
Create Date: 2026-11-23

Texts stay empty here: the code ships them per locale (feedback_svc/surveys/texts.py)
and a survey's own `texts` only override them. Operators change these rows through
the API; the downgrade removes only rows it added and nobody changed.
"""

from alembic import op

revision = "20261123_0002"
down_revision = "20261123_0001"
branch_labels = None
depends_on = None

UPGRADE = r"""
INSERT INTO surveys (key, kind) VALUES ('nps', 'nps'), ('csat', 'csat'), ('ces', 'ces')
ON CONFLICT (key) DO NOTHING;

INSERT INTO touchpoints (key, name, critical, survey_id, invite_delay)
SELECT t.key, t.name, t.critical, s.id, t.delay::interval
  FROM (VALUES
        ('support_call', 'Support call',        false, 'csat', '15 minutes'),
        ('support_chat', 'Support chat',        false, 'csat', '5 minutes'),
        ('delivery',     'Delivery',            true,  'csat', '2 hours'),
        ('onboarding',   'Onboarding',          true,  'ces',  '1 day'),
        ('billing',      'Billing question',    false, 'ces',  '30 minutes'),
        ('cancellation', 'Cancellation request', true, 'csat', '0 minutes'),
        ('relationship', 'Relationship survey', false, 'nps',  '0 minutes')
       ) AS t (key, name, critical, survey, delay)
  JOIN surveys s ON s.key = t.survey
ON CONFLICT (key) DO NOTHING;
"""

DOWNGRADE = r"""
DELETE FROM touchpoints t
 WHERE t.key IN ('support_call','support_chat','delivery','onboarding','billing','cancellation','relationship')
   AND t.updated_at = t.created_at;
DELETE FROM surveys s
 WHERE s.key IN ('nps','csat','ces') AND s.updated_at = s.created_at
   AND NOT EXISTS (SELECT 1 FROM invitations i WHERE i.survey_id = s.id)
   AND NOT EXISTS (SELECT 1 FROM responses r WHERE r.survey_id = s.id)
   AND NOT EXISTS (SELECT 1 FROM touchpoints t WHERE t.survey_id = s.id);
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
