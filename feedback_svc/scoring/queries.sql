-- name: insert_scores
-- One statement for a whole batch: arrays in, one row per score out, in order. Each
-- score's imputed inputs come as an array literal: unnest cannot carry ragged arrays, and
-- array_in costs a twentieth of taking a JSON array apart. Loyalty and lifetime value may
-- be NULL; a model without loyalty gives every score of the batch the same reason ($11).
-- The events about some of the scores (customer.at_risk) are written by the same statement,
-- so they commit with them: BEGIN, a second statement and COMMIT were three more round trips
-- a batch. Event k is about the score at position $17[k] (1-based) and is written in the
-- order given; its payload ($18, without data.score_id) gets that score's id, and its dedupe
-- key is $16 followed by the id.
WITH stored AS (
    INSERT INTO scores (customer_id, model_version, churn_probability, loyalty, loyalty_index, risk_band,
                        value_at_risk, reasons, imputed, loyalty_unavailable, expected_purchases,
                        expected_value, probability_alive, scored_at)
    SELECT s.customer_id, $2, s.churn, s.loyalty, s.loyalty_index, s.risk_band, s.value_at_risk,
           s.reasons::jsonb, s.imputed::text[], CASE WHEN s.loyalty IS NULL THEN $11 END,
           s.expected_purchases, s.expected_value, s.probability_alive, $1
      FROM unnest($3::uuid[], $4::float8[], $5::float8[], $6::int[], $7::text[], $8::float8[], $9::text[],
                  $10::text[], $12::float8[], $13::float8[], $14::float8[])
           WITH ORDINALITY AS s(customer_id, churn, loyalty, loyalty_index, risk_band, value_at_risk, reasons,
                                imputed, expected_purchases, expected_value, probability_alive, n)
     ORDER BY s.n
    RETURNING id
),
-- ids are drawn row by row in the order inserted, so their order is the batch's
numbered AS (
    SELECT id, row_number() OVER (ORDER BY id) AS n FROM stored
),
events AS (
    INSERT INTO outbox (topic, payload, ordering_key, dedupe_key, run_after)
    SELECT $15, jsonb_set(e.payload::jsonb, '{data,score_id}', to_jsonb(b.id)), e.ordering_key, $16 || b.id,
           now()
      FROM unnest($17::int8[], $18::text[], $19::text[]) WITH ORDINALITY AS e(position, payload, ordering_key, k)
      JOIN numbered b ON b.n = e.position
     ORDER BY e.k
        ON CONFLICT (dedupe_key) DO NOTHING
)
SELECT id FROM numbered ORDER BY n;

-- name: active_model_version
-- Asked by every replica every few seconds: an index-only look at one row.
SELECT version FROM models WHERE kind = $1 AND active;

-- name: model_artifact
SELECT version, artifact FROM models WHERE version = $1;

-- name: list_models
SELECT version, kind, active, created_at, activated_at, metrics
  FROM models
 WHERE kind = $1
 ORDER BY created_at DESC, version DESC;

-- name: get_model
SELECT id, version, kind, active, created_at, activated_at, metrics, card
  FROM models
 WHERE version = $1;

-- name: insert_model
-- Training the same data again gives the same version: keep the first.
INSERT INTO models (kind, version, artifact, card, metrics)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (version) DO NOTHING
RETURNING id;

-- name: lock_registry
-- Activations and rollbacks of one kind happen one at a time, so two admins
-- cannot both switch from the same active model.
SELECT pg_advisory_xact_lock(hashtext('models:' || $1));

-- name: active_model
SELECT id, version FROM models WHERE kind = $1 AND active;

-- name: deactivate_models
UPDATE models SET active = false WHERE kind = $1 AND active;

-- name: activate_model
UPDATE models SET active = true, activated_at = now() WHERE id = $1;

-- name: insert_activation
INSERT INTO model_activations (kind, action, model_id, previous_model_id, forced, reason, actor)
VALUES ($1, $2, $3, $4, $5, $6, $7);

-- name: last_activation
-- What the current model replaced: the target of a rollback.
SELECT a.model_id, a.previous_model_id, p.version AS previous_version
  FROM model_activations a
  LEFT JOIN models p ON p.id = a.previous_model_id
 WHERE a.kind = $1
 ORDER BY a.id DESC
 LIMIT 1;

-- name: insert_training_run
-- Nothing when a run of this kind is queued or running already: the partial unique index
-- decides between concurrent requests, whichever process they came through.
INSERT INTO training_runs (kind, activate, force, requested_by, horizon_days, as_of)
VALUES ($1, $2, $3, $4, $5, $6)
    ON CONFLICT (kind) WHERE status IN ('queued', 'running') DO NOTHING
RETURNING id, status, activate, force, horizon_days, as_of, labels, progress, message, model_version,
          activated, error, created_at, started_at, finished_at;

-- name: active_training_run
SELECT id, status, activate, force, horizon_days, as_of, labels, progress, message, model_version,
       activated, error, created_at, started_at, finished_at
  FROM training_runs
 WHERE kind = $1 AND status IN ('queued', 'running');

-- name: close_orphaned_training_runs
-- A run whose outbox job is no longer pending (buried after its last attempt) will never
-- finish; left open, it would keep every later training from starting.
UPDATE training_runs r
   SET status = 'failed', finished_at = now(), message = 'its background job ended without a result',
       error = coalesce((SELECT o.last_error FROM outbox o WHERE o.dedupe_key = $2 || r.id::text),
                        'its background job is gone')
 WHERE r.kind = $1 AND r.status IN ('queued', 'running')
   AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.dedupe_key = $2 || r.id::text AND o.status = 'pending');

-- name: get_training_run
SELECT id, status, activate, force, horizon_days, as_of, labels, progress, message, model_version,
       activated, error, created_at, started_at, finished_at
  FROM training_runs
 WHERE id = $1;

-- name: start_training_run
-- A redelivered job whose run already finished does nothing (at-least-once delivery). The
-- label policy is the deployment's when the run starts ($2), kept with the run.
UPDATE training_runs
   SET status = 'running', started_at = coalesce(started_at, now()), progress = 0, error = NULL,
       labels = $2
 WHERE id = $1 AND status IN ('queued', 'running')
RETURNING kind, activate, force, requested_by, horizon_days, as_of;

-- name: report_training_progress
UPDATE training_runs SET progress = $2, message = $3 WHERE id = $1 AND status = 'running';

-- name: finish_training_run
UPDATE training_runs
   SET status = $2, progress = CASE WHEN $2 = 'succeeded' THEN 1 ELSE progress END, message = $3,
       model_version = $4, activated = $5, error = $6, finished_at = now()
 WHERE id = $1;

-- name: ids_by_external_id
-- Our ids for the CRM's, for a score request that names customers by theirs.
SELECT external_id, id FROM customers WHERE external_id = ANY($1::text[]);
