-- name: survey_definition
-- A survey as it stands; FOR UPDATE variants below lock it while a version is added.
SELECT id, key, kind, texts, version, cooldown, answer_window, token_ttl, active, retired_at
  FROM surveys
 WHERE key = $1;

-- name: lock_survey_definition
SELECT id, key, kind, texts, version, cooldown, answer_window, token_ttl, active, retired_at
  FROM surveys
 WHERE key = $1
   FOR UPDATE;

-- name: insert_survey
-- A new survey and its version 1 in one statement; no row back: the key is taken.
WITH survey AS (
    INSERT INTO surveys (key, kind, texts, cooldown, answer_window, token_ttl)
    VALUES ($1, $2, $3, $4, $5, $6)
    ON CONFLICT (key) DO NOTHING
    RETURNING id, key, kind, texts, version, cooldown, answer_window, token_ttl, active, retired_at
),
first AS (
    INSERT INTO survey_versions (survey_id, version, texts, created_by)
    SELECT id, 1, texts, $7 FROM survey
)
SELECT * FROM survey;

-- name: add_survey_version
-- The next version of survey $1 (locked by the caller) with texts $2; surveys.texts follows it.
WITH added AS (
    INSERT INTO survey_versions (survey_id, version, texts, created_by)
    SELECT id, version + 1, $2, $3 FROM surveys WHERE id = $1
    RETURNING survey_id, version
)
UPDATE surveys s
   SET version = a.version, texts = $2, updated_at = now()
  FROM added a
 WHERE s.id = a.survey_id;

-- name: update_survey_settings
-- NULL leaves a setting as it is.
UPDATE surveys
   SET cooldown = coalesce($2, cooldown),
       answer_window = coalesce($3, answer_window),
       token_ttl = coalesce($4, token_ttl),
       updated_at = now()
 WHERE id = $1;

-- name: retire_survey
UPDATE surveys SET retired_at = now(), updated_at = now() WHERE id = $1 AND retired_at IS NULL;

-- name: touchpoints_using_survey
-- Rules that would still send the survey: retiring it waits until they point elsewhere.
SELECT key FROM touchpoints WHERE survey_id = $1 AND retired_at IS NULL ORDER BY key;

-- name: list_survey_versions
SELECT s.key AS survey, v.version, v.version = s.version AS current, v.texts, v.created_at, v.created_by
  FROM survey_versions v
  JOIN surveys s ON s.id = v.survey_id
 WHERE s.key = $1
 ORDER BY v.version DESC;

-- name: survey_version
SELECT s.key AS survey, v.version, v.version = s.version AS current, v.texts, v.created_at, v.created_by
  FROM survey_versions v
  JOIN surveys s ON s.id = v.survey_id
 WHERE s.key = $1 AND v.version = $2;

-- name: preview_touchpoint
-- The touchpoint a preview fills {touchpoint} from.
SELECT key, name, display_names FROM touchpoints WHERE key = $1;
