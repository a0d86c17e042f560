"""Surveys and touchpoints managed through the API: versioned survey texts, retirement, and
touchpoint names per locale.

Revision ID: 20261206_0017
Revises: 20261206_0013
Create Date: 2026-12-06

- `survey_versions`: one immutable row per version of a survey's texts; every survey starts
  with version 1 (its texts as they are). `surveys.version` is the current one and
  `surveys.texts` stays a copy of its texts, written by the same statement, so readers of the
  survey as it stands need no join.
- `invitations.survey_version` and `responses.survey_version`: the version an invitation was
  made with and an answer was given to (existing rows: 1). A trigger fills it on insert where
  the statement leaves it out: an invitation takes the survey's current version, an answer its
  invitation's (or, without one, the current version), so no insert path can forget it.
- `surveys.retired_at`: a retired survey sends nothing new; `active` becomes its negation.
- `touchpoints.display_names` ({"de": "Installationstermin"}) fill {touchpoint} in what the
  customer reads; existing touchpoints start with none, so the shipped ones keep their names
  from the translation catalogs. `touchpoints.retired_at`: no survey follows it.
- `interactions.no_survey_reason`: why an interaction got no invitation (touchpoint retired,
  rule without a survey, survey retired).
"""

from alembic import op

revision = "20261206_0017"
down_revision = "20261206_0013"
branch_labels = None
depends_on = None

UPGRADE = r"""
CREATE TABLE survey_versions (
    survey_id   uuid NOT NULL REFERENCES surveys (id) ON DELETE CASCADE,
    version     integer NOT NULL CHECK (version >= 1),
    -- {"de": {"question": ..., "sms": ...}}: the survey's own texts, checked when saved
    texts       jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text,
    PRIMARY KEY (survey_id, version)
);

ALTER TABLE surveys
    ADD COLUMN version integer NOT NULL DEFAULT 1,
    ADD COLUMN retired_at timestamptz;
INSERT INTO survey_versions (survey_id, version, texts, created_at)
SELECT id, 1, texts, created_at FROM surveys;
UPDATE surveys SET retired_at = updated_at WHERE NOT active;
ALTER TABLE surveys DROP COLUMN active;
ALTER TABLE surveys ADD COLUMN active boolean GENERATED ALWAYS AS (retired_at IS NULL) STORED;
ALTER TABLE surveys ADD FOREIGN KEY (id, version) REFERENCES survey_versions (survey_id, version)
    DEFERRABLE INITIALLY DEFERRED;

-- existing rows belong to version 1; the default goes right away, the trigger fills new rows
ALTER TABLE invitations ADD COLUMN survey_version integer NOT NULL DEFAULT 1;
ALTER TABLE invitations ALTER COLUMN survey_version DROP DEFAULT;
ALTER TABLE invitations ADD FOREIGN KEY (survey_id, survey_version)
    REFERENCES survey_versions (survey_id, version);
ALTER TABLE responses ADD COLUMN survey_version integer NOT NULL DEFAULT 1;
ALTER TABLE responses ALTER COLUMN survey_version DROP DEFAULT;
ALTER TABLE responses ADD FOREIGN KEY (survey_id, survey_version)
    REFERENCES survey_versions (survey_id, version);

CREATE FUNCTION invitation_survey_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.survey_version IS NULL THEN
        SELECT version INTO NEW.survey_version FROM surveys WHERE id = NEW.survey_id;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER invitations_survey_version BEFORE INSERT ON invitations
    FOR EACH ROW EXECUTE FUNCTION invitation_survey_version();

CREATE FUNCTION response_survey_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.survey_version IS NULL AND NEW.invitation_id IS NOT NULL THEN
        SELECT survey_version INTO NEW.survey_version FROM invitations WHERE id = NEW.invitation_id;
    END IF;
    IF NEW.survey_version IS NULL THEN
        SELECT version INTO NEW.survey_version FROM surveys WHERE id = NEW.survey_id;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER responses_survey_version BEFORE INSERT ON responses
    FOR EACH ROW EXECUTE FUNCTION response_survey_version();

ALTER TABLE touchpoints
    ADD COLUMN display_names jsonb NOT NULL DEFAULT '{}'::jsonb,
    ADD COLUMN retired_at timestamptz;

ALTER TABLE interactions ADD COLUMN no_survey_reason text;
"""

DOWNGRADE = r"""
ALTER TABLE interactions DROP COLUMN IF EXISTS no_survey_reason;
ALTER TABLE touchpoints DROP COLUMN IF EXISTS retired_at, DROP COLUMN IF EXISTS display_names;
DROP TRIGGER IF EXISTS responses_survey_version ON responses;
DROP FUNCTION IF EXISTS response_survey_version();
DROP TRIGGER IF EXISTS invitations_survey_version ON invitations;
DROP FUNCTION IF EXISTS invitation_survey_version();
ALTER TABLE responses DROP COLUMN IF EXISTS survey_version;
ALTER TABLE invitations DROP COLUMN IF EXISTS survey_version;
-- the current version's texts are in surveys.texts already
ALTER TABLE surveys DROP COLUMN active;
ALTER TABLE surveys ADD COLUMN active boolean NOT NULL DEFAULT true;
UPDATE surveys SET active = false WHERE retired_at IS NOT NULL;
ALTER TABLE surveys DROP COLUMN retired_at, DROP COLUMN version;
DROP TABLE IF EXISTS survey_versions;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
