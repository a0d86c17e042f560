-- name: upsert_survey
-- The simulated invitations need a survey per kind; reuse one that exists.
INSERT INTO surveys (key, kind)
VALUES ($1, $2)
ON CONFLICT (key) DO UPDATE SET updated_at = surveys.updated_at
RETURNING id, kind;

-- name: insert_touchpoint
-- Touchpoints the simulated interactions use; an existing definition wins.
INSERT INTO touchpoints (key, name, critical, survey_id)
VALUES ($1, $2, $3, $4)
ON CONFLICT (key) DO NOTHING;

-- name: create_customer_staging
-- attributes arrive as JSON text: a text column takes them whatever jsonb codec
-- the caller's connection has installed.
CREATE TEMP TABLE ml_sim_customers (
    id          uuid,
    external_id text,
    email       text,
    phone       text,
    name        text,
    time_zone   text,
    locale      text,
    value       double precision,
    segment     text,
    attributes  text,
    created_at  timestamptz
);

-- name: insert_staged_customers
INSERT INTO customers (id, external_id, email, phone, name, time_zone, locale, value, segment,
                       attributes, created_at, updated_at)
SELECT id, external_id, email, phone, name, time_zone, locale, value, segment,
       attributes::jsonb, created_at, created_at
  FROM ml_sim_customers;

-- name: drop_customer_staging
DROP TABLE ml_sim_customers;
