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
    customer_since timestamptz,
    created_at  timestamptz
);

-- name: insert_staged_customers
-- The simulated CRM data never changes, so each version is valid since the row was created.
INSERT INTO customers (id, external_id, email, phone, name, time_zone, locale, value, segment,
                       attributes, customer_since, attributes_since, created_at, updated_at)
SELECT id, external_id, email, phone, name, time_zone, locale, value, segment,
       attributes::jsonb, customer_since, created_at, created_at, created_at
  FROM ml_sim_customers;

-- name: drop_customer_staging
DROP TABLE ml_sim_customers;

-- name: create_task_staging
-- Recovery tasks, their evidence and history with JSON as text, like the customers above.
CREATE TEMP TABLE ml_sim_tasks (
    id               uuid,
    customer_id      uuid,
    status           text,
    trigger          text,
    touchpoint       text,
    critical         boolean,
    priority         double precision,
    priority_reasons text,
    value_at_risk    double precision,
    deadline_at      timestamptz,
    assignee         text,
    first_contact_at timestamptz,
    outcome          text,
    root_cause       text,
    resolved_at      timestamptz,
    created_at       timestamptz,
    updated_at       timestamptz
);
CREATE TEMP TABLE ml_sim_evidence (
    task_id      uuid,
    trigger      text,
    response_id  uuid,
    details      text,
    created_at   timestamptz
);
CREATE TEMP TABLE ml_sim_history (
    task_id      uuid,
    actor        text,
    action       text,
    details      text,
    created_at   timestamptz
);

-- name: insert_staged_tasks
INSERT INTO recovery_tasks (id, customer_id, status, trigger, touchpoint, critical, priority,
                            priority_reasons, value_at_risk, deadline_at, assignee, first_contact_at,
                            outcome, root_cause, resolved_at, created_at, updated_at)
SELECT id, customer_id, status, trigger, touchpoint, critical, priority, priority_reasons::jsonb,
       value_at_risk, deadline_at, assignee, first_contact_at, outcome, root_cause, resolved_at,
       created_at, updated_at
  FROM ml_sim_tasks;
INSERT INTO recovery_evidence (task_id, trigger, response_id, details, created_at)
SELECT task_id, trigger, response_id, details::jsonb, created_at FROM ml_sim_evidence ORDER BY created_at;
INSERT INTO recovery_task_history (task_id, actor, action, details, created_at)
SELECT task_id, actor, action, details::jsonb, created_at FROM ml_sim_history ORDER BY created_at;

-- name: drop_task_staging
DROP TABLE ml_sim_tasks, ml_sim_evidence, ml_sim_history;
