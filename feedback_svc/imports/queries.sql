-- name: create_import
INSERT INTO imports (kind, format, api_key_id, requested_by, file_name, idempotency_key, options, status)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING *;

-- name: import_for_key
-- A retry with the same Idempotency-Key answers with the first import (one that did not fail).
SELECT * FROM imports WHERE api_key_id = $1 AND idempotency_key = $2 AND status <> 'failed';

-- name: get_import
SELECT * FROM imports WHERE id = $1;

-- name: list_imports
SELECT * FROM imports ORDER BY created_at DESC, id LIMIT $1;

-- name: save_receiving
UPDATE imports SET bytes = $2, rows_total = $3, updated_at = now() WHERE id = $1 AND status = 'receiving';

-- name: same_file_import
-- The first import of the same content, if one did not fail.
SELECT * FROM imports
 WHERE kind = $1 AND file_sha256 = $2 AND status <> 'failed' AND id <> $3
 ORDER BY created_at
 LIMIT 1;

-- name: finish_receiving
-- The whole file is here: known by its content from now on, and queued for a worker.
UPDATE imports
   SET status = $3, file_sha256 = $2, received_at = now(), updated_at = now()
 WHERE id = $1 AND status = 'receiving'
RETURNING *;

-- name: drop_import
DELETE FROM imports WHERE id = $1;

-- name: start_validating
-- From queued, or again after a worker died while validating (its checkpoint says where).
UPDATE imports
   SET status = 'validating', started_at = coalesce(started_at, now()), updated_at = now()
 WHERE id = $1 AND status IN ('queued', 'validating')
RETURNING *;

-- name: save_validated
-- The rows of one batch are in staging; this checkpoint commits with them.
UPDATE imports
   SET lines_validated = $2, rows_total = rows_total + $3, rows_valid = rows_valid + $4,
       rows_invalid = rows_invalid + $5, updated_at = now()
 WHERE id = $1
RETURNING lines_validated;

-- name: set_rows_total
UPDATE imports SET rows_total = $2, updated_at = now() WHERE id = $1;

-- name: analyze_customer_rows
-- Staging tables fill faster than autovacuum looks (see imports/_apply.py).
ANALYZE import_customer_rows;

-- name: analyze_event_rows
ANALYZE import_event_rows;

-- name: analyze_interaction_rows
ANALYZE import_interaction_rows;

-- name: start_applying
UPDATE imports
   SET status = 'applying', started_at = coalesce(started_at, now()), updated_at = now()
 WHERE id = $1 AND status IN ('validating', 'applying')
RETURNING *;

-- name: save_applied
-- One chunk ($7) is written; its mark and the counts commit with it.
WITH mark AS (
    INSERT INTO import_chunks (import_id, chunk) VALUES ($1, $7)
)
UPDATE imports
   SET rows_applied = rows_applied + $2, rows_created = rows_created + $3, rows_updated = rows_updated + $4,
       rows_unchanged = rows_unchanged + $5, rows_invalid = rows_invalid + $6, rows_valid = rows_valid - $6,
       updated_at = now()
 WHERE id = $1;

-- name: written_chunks
SELECT chunk FROM import_chunks WHERE import_id = $1;

-- name: finish_import
UPDATE imports
   SET status = $2, message = $3, finished_at = now(), updated_at = now()
 WHERE id = $1 AND status NOT IN ('succeeded', 'failed')
RETURNING *;

-- name: fail_import
-- Also from 'receiving': an upload that broke off leaves nothing to apply.
UPDATE imports
   SET status = 'failed', message = $2, finished_at = now(), updated_at = now()
 WHERE id = $1 AND status NOT IN ('succeeded', 'failed');

-- name: drop_staging
WITH chunks AS (
    DELETE FROM import_chunks WHERE import_id = $1
), lines AS (
    DELETE FROM import_lines WHERE import_id = $1
), customers AS (
    DELETE FROM import_customer_rows WHERE import_id = $1
), events AS (
    DELETE FROM import_event_rows WHERE import_id = $1
)
DELETE FROM import_interaction_rows WHERE import_id = $1;

-- name: drop_staged_rows_after
-- A worker taking over after a crash drops what the dead one staged past its checkpoint.
WITH customers AS (
    DELETE FROM import_customer_rows WHERE import_id = $1 AND line > $2
), events AS (
    DELETE FROM import_event_rows WHERE import_id = $1 AND line > $2
), interactions AS (
    DELETE FROM import_interaction_rows WHERE import_id = $1 AND line > $2
)
DELETE FROM import_errors WHERE import_id = $1 AND line > $2;

-- name: lines_after
-- The received file, read in batches from a checkpoint.
SELECT line, text, problem FROM import_lines WHERE import_id = $1 AND line > $2 ORDER BY line LIMIT $3;

-- name: first_line
SELECT text FROM import_lines WHERE import_id = $1 AND line = 1;

-- name: row_errors
-- Every error of the first $3 refused lines after line $2.
SELECT line, field, message
  FROM import_errors
 WHERE import_id = $1
   AND line IN (SELECT DISTINCT line FROM import_errors
                 WHERE import_id = $1 AND line > $2 ORDER BY line LIMIT $3)
 ORDER BY line, field NULLS FIRST, message;

-- name: lock_applying
-- One import writes at a time across every process: applies of overlapping customers
-- cannot deadlock, and one import at a time is the most the answers path shares the
-- database with. Session-level; released when the apply ends (or its connection does).
SELECT pg_advisory_lock(hashtextextended('imports:apply', 0));

-- name: unlock_applying
SELECT pg_advisory_unlock(hashtextextended('imports:apply', 0));

-- name: lock_import
-- Whoever processes an import holds this for the duration (a redelivered job finds it taken).
SELECT pg_try_advisory_lock(hashtextextended('import:' || $1::uuid::text, 0));

-- name: unlock_import
SELECT pg_advisory_unlock(hashtextextended('import:' || $1::uuid::text, 0));

-- name: customer_waves
-- The chunk's rows (lines $2 < line <= $3), and how many the busiest customer has: rows of
-- one customer apply one per wave, oldest `as_of` first (no as_of: last, as of the apply),
-- then in file order. A row dated before what an earlier chunk wrote fills in history.
SELECT coalesce(sum(n), 0)::bigint AS rows, coalesce(max(n), 0) AS waves, count(*) AS customers
  FROM (SELECT count(*) AS n
          FROM import_customer_rows
         WHERE import_id = $1 AND line > $2 AND line <= $3
         GROUP BY external_id) per_customer;

-- name: insert_wave_customers
-- Customers the CRM has not sent before, in CRM id order (the order applies lock in).
-- Fields a row does not send take the defaults POST /v1/customers gives them.
WITH wave AS (
    SELECT *
      FROM (SELECT s.*, row_number() OVER (PARTITION BY s.external_id
                                           ORDER BY s.as_of NULLS LAST, s.line) AS k
              FROM import_customer_rows s
             WHERE s.import_id = $1 AND s.line > $2 AND s.line <= $3) r
     WHERE r.k = $4
),
inserted AS (
    INSERT INTO customers AS c (external_id, email, phone, name, time_zone, locale, value, segment,
                                customer_since, attributes, attributes_since)
    SELECT w.external_id, w.email, w.phone, w.name, coalesce(w.time_zone, 'UTC'), coalesce(w.locale, 'en'),
           coalesce(w.value, 0), w.segment, w.customer_since,
           jsonb_strip_nulls(coalesce(w.attributes::jsonb, '{}'::jsonb)), coalesce(w.as_of, now())
      FROM wave w
     WHERE NOT EXISTS (SELECT 1 FROM customers e WHERE e.external_id = w.external_id)
     ORDER BY w.external_id
    ON CONFLICT (external_id) DO NOTHING
    RETURNING 1
)
SELECT count(*) FROM inserted;

-- name: wave_attribute_overflow
-- Rows whose attributes would take their customer past the limit ($4 keys): refused, by line.
WITH wave AS (
    SELECT *
      FROM (SELECT s.*, row_number() OVER (PARTITION BY s.external_id
                                           ORDER BY s.as_of NULLS LAST, s.line) AS k
              FROM import_customer_rows s
             WHERE s.import_id = $1 AND s.line > $2 AND s.line <= $3) r
     WHERE r.k = $5
)
SELECT w.line, k.n
  FROM wave w
  JOIN customers c ON c.external_id = w.external_id
 CROSS JOIN LATERAL (SELECT count(*) AS n
                       FROM jsonb_object_keys(jsonb_strip_nulls(c.attributes || w.attributes::jsonb))) k
 WHERE 'attributes' = ANY(w.sent)
   AND (w.as_of IS NULL OR w.as_of >= c.attributes_since)
   AND k.n > $4;

-- name: update_wave_customers
-- Customers that exist: what each row sends replaces the stored value, attributes merge (a
-- null removes a key), as one POST /v1/customers would. A row changes nothing it does not
-- send; an unchanged customer is not written (no new version, no updated_at). Rows dated
-- before the customer's current attributes (back-filled history) are for backfill_attributes.
-- The attribute and value history is the trigger's (migrations 0005), dated by as_of.
WITH wave AS (
    SELECT *
      FROM (SELECT s.*, row_number() OVER (PARTITION BY s.external_id
                                           ORDER BY s.as_of NULLS LAST, s.line) AS k
              FROM import_customer_rows s
             WHERE s.import_id = $1 AND s.line > $2 AND s.line <= $3) r
     WHERE r.k = $5
),
updated AS (
    UPDATE customers c
       SET email = CASE WHEN 'email' = ANY(w.sent) THEN w.email ELSE c.email END,
           phone = CASE WHEN 'phone' = ANY(w.sent) THEN w.phone ELSE c.phone END,
           name = CASE WHEN 'name' = ANY(w.sent) THEN w.name ELSE c.name END,
           time_zone = CASE WHEN 'time_zone' = ANY(w.sent) THEN w.time_zone ELSE c.time_zone END,
           locale = CASE WHEN 'locale' = ANY(w.sent) THEN w.locale ELSE c.locale END,
           value = CASE WHEN 'value' = ANY(w.sent) THEN w.value ELSE c.value END,
           segment = CASE WHEN 'segment' = ANY(w.sent) THEN w.segment ELSE c.segment END,
           customer_since = CASE WHEN 'customer_since' = ANY(w.sent) THEN w.customer_since
                                 ELSE c.customer_since END,
           attributes = CASE WHEN 'attributes' = ANY(w.sent)
                             THEN jsonb_strip_nulls(c.attributes || w.attributes::jsonb) ELSE c.attributes END,
           attributes_since = coalesce(w.as_of, now()),
           updated_at = now()
      FROM wave w
     WHERE c.external_id = w.external_id
       AND (w.as_of IS NULL OR w.as_of >= c.attributes_since)
       AND (NOT 'attributes' = ANY(w.sent)
            OR (SELECT count(*) FROM jsonb_object_keys(jsonb_strip_nulls(c.attributes || w.attributes::jsonb))) <= $4)
       AND (c.email, c.phone, c.name, c.time_zone, c.locale, c.value, c.segment, c.customer_since, c.attributes)
           IS DISTINCT FROM
           (CASE WHEN 'email' = ANY(w.sent) THEN w.email ELSE c.email END,
            CASE WHEN 'phone' = ANY(w.sent) THEN w.phone ELSE c.phone END,
            CASE WHEN 'name' = ANY(w.sent) THEN w.name ELSE c.name END,
            CASE WHEN 'time_zone' = ANY(w.sent) THEN w.time_zone ELSE c.time_zone END,
            CASE WHEN 'locale' = ANY(w.sent) THEN w.locale ELSE c.locale END,
            CASE WHEN 'value' = ANY(w.sent) THEN w.value ELSE c.value END,
            CASE WHEN 'segment' = ANY(w.sent) THEN w.segment ELSE c.segment END,
            CASE WHEN 'customer_since' = ANY(w.sent) THEN w.customer_since ELSE c.customer_since END,
            CASE WHEN 'attributes' = ANY(w.sent)
                 THEN jsonb_strip_nulls(c.attributes || w.attributes::jsonb) ELSE c.attributes END)
    RETURNING 1
)
SELECT count(*) FROM updated;

-- name: backfill_attributes
-- Rows dated before what is known of the customer's attributes fill in their history: the
-- version that covered as_of is cut there, and from as_of until the next known version the
-- row's attributes (merged into that version's), value and segment hold. Such a row changes
-- nothing else: newer contact details stay.
WITH wave AS (
    SELECT *
      FROM (SELECT s.*, row_number() OVER (PARTITION BY s.external_id
                                           ORDER BY s.as_of NULLS LAST, s.line) AS k
              FROM import_customer_rows s
             WHERE s.import_id = $1 AND s.line > $2 AND s.line <= $3) r
     WHERE r.k = $4
),
back AS (
    SELECT w.line, w.as_of, w.sent, w.attributes, w.value, w.segment,
           c.id AS customer_id, c.attributes_since
      FROM wave w
      JOIN customers c ON c.external_id = w.external_id
     WHERE w.as_of < c.attributes_since
       AND w.sent && ARRAY['attributes', 'value', 'segment']
),
covering AS (
    SELECT b.line, h.valid_from, h.valid_to, h.attributes, h.value, h.segment
      FROM back b
      JOIN customer_attribute_history h
        ON h.customer_id = b.customer_id AND h.valid_from <= b.as_of AND h.valid_to > b.as_of
),
cut AS (
    UPDATE customer_attribute_history h
       SET valid_to = b.as_of
      FROM back b
      JOIN covering v ON v.line = b.line
     WHERE h.customer_id = b.customer_id AND h.valid_from = v.valid_from AND v.valid_from < b.as_of
),
written AS (
    INSERT INTO customer_attribute_history AS h (customer_id, valid_from, valid_to, attributes, value, segment)
    SELECT b.customer_id, b.as_of,
           coalesce(v.valid_to,
                    (SELECT min(n.valid_from) FROM customer_attribute_history n
                      WHERE n.customer_id = b.customer_id AND n.valid_from > b.as_of),
                    b.attributes_since),
           CASE WHEN 'attributes' = ANY(b.sent)
                THEN jsonb_strip_nulls(coalesce(v.attributes, '{}'::jsonb) || b.attributes::jsonb)
                ELSE coalesce(v.attributes, '{}'::jsonb) END,
           CASE WHEN 'value' = ANY(b.sent) THEN b.value ELSE v.value END,
           CASE WHEN 'segment' = ANY(b.sent) THEN b.segment ELSE v.segment END
      FROM back b
      LEFT JOIN covering v ON v.line = b.line
    ON CONFLICT (customer_id, valid_from) DO UPDATE
       SET attributes = excluded.attributes, value = excluded.value, segment = excluded.segment
    RETURNING 1
)
SELECT count(*) FROM written;

-- name: apply_events
-- One chunk of event rows (lines $2 < line <= $3): each row's customer is found by our id or
-- the CRM's, and the event stored unless one with its external id exists. Returns how many
-- were stored and the rows refused, with why. A customer erased while this runs is caught by
-- drop_rows_of_erased, right after in the same transaction (customers/locks.py: the insert's
-- foreign-key check waits for such an erasure, and no later one can pass it until we commit).
WITH chunk AS (
    SELECT * FROM import_event_rows WHERE import_id = $1 AND line > $2 AND line <= $3
),
resolved AS (
    SELECT r.*, coalesce(c1.id, c2.id) AS target, coalesce(c1.erased_at, c2.erased_at) IS NOT NULL AS erased
      FROM chunk r
      LEFT JOIN customers c1 ON c1.id = r.customer_id
      LEFT JOIN customers c2 ON r.customer_id IS NULL AND c2.external_id = r.customer_external_id
),
repeated AS (
    SELECT external_id FROM chunk WHERE external_id IS NOT NULL GROUP BY external_id HAVING count(*) > 1
),
twice AS (
    SELECT * FROM resolved WHERE external_id IN (SELECT external_id FROM repeated)
),
clashing AS (
    -- a line giving an earlier line's external id to another customer, kind or time is refused,
    -- as POST /v1/events refuses it (409)
    SELECT r.line
      FROM twice r
     WHERE EXISTS (SELECT 1 FROM twice o
                    WHERE o.external_id = r.external_id AND o.line < r.line
                      AND (o.target, o.kind, o.occurred_at) IS DISTINCT FROM (r.target, r.kind, r.occurred_at))
),
inserted AS (
    INSERT INTO customer_events (customer_id, external_id, kind, occurred_at, amount, currency, import_id)
    SELECT r.target, r.external_id, r.kind, r.occurred_at, r.amount, r.currency, $1
      FROM resolved r
     WHERE r.target IS NOT NULL AND NOT r.erased AND r.line NOT IN (SELECT line FROM clashing)
     ORDER BY r.target, r.occurred_at
    ON CONFLICT (external_id) DO NOTHING
    RETURNING external_id
),
taken AS (
    -- only a row the insert skipped can clash with an event stored before: refused when that
    -- event is another one (409 on POST /v1/events), a repeat of it otherwise. This reads the
    -- snapshot from before the insert, so it sees earlier events only; probing just the skipped
    -- rows spares an index lookup per stored row.
    SELECT r.line
      FROM resolved r
      LEFT JOIN inserted i ON i.external_id = r.external_id
     WHERE r.external_id IS NOT NULL AND i.external_id IS NULL
       AND r.target IS NOT NULL AND NOT r.erased AND r.line NOT IN (SELECT line FROM clashing)
       AND EXISTS (SELECT 1 FROM customer_events e
                    WHERE e.external_id = r.external_id
                      AND (e.customer_id, e.kind, e.occurred_at) IS DISTINCT FROM (r.target, r.kind, r.occurred_at))
),
earlier AS (
    SELECT line FROM clashing UNION ALL SELECT line FROM taken
)
SELECT (SELECT count(*) FROM chunk) AS rows,
       (SELECT count(*) FROM inserted) AS created,
       coalesce((SELECT jsonb_agg(jsonb_build_object(
                            'line', r.line,
                            'problem', CASE WHEN r.line IN (SELECT line FROM earlier) THEN 'external_id'
                                            WHEN r.target IS NULL THEN 'unknown' ELSE 'erased' END,
                            'customer_id', r.customer_id,
                            'customer_external_id', r.customer_external_id,
                            'external_id', r.external_id) ORDER BY r.line)
                   FROM resolved r
                  WHERE r.target IS NULL OR r.erased OR r.line IN (SELECT line FROM earlier)), '[]'::jsonb)
           AS refused;

-- name: apply_interactions
-- As apply_events, for interactions: history, so no invitation follows any of them.
WITH chunk AS (
    SELECT * FROM import_interaction_rows WHERE import_id = $1 AND line > $2 AND line <= $3
),
resolved AS (
    SELECT r.*, coalesce(c1.id, c2.id) AS target, coalesce(c1.erased_at, c2.erased_at) IS NOT NULL AS erased
      FROM chunk r
      LEFT JOIN customers c1 ON c1.id = r.customer_id
      LEFT JOIN customers c2 ON r.customer_id IS NULL AND c2.external_id = r.customer_external_id
),
inserted AS (
    INSERT INTO interactions (customer_id, external_id, touchpoint, critical, occurred_at, channel_preference,
                              agent, attributes, import_id)
    SELECT r.target, r.external_id, r.touchpoint, coalesce(t.critical, false), r.occurred_at,
           r.channel_preference, r.agent, r.attributes::jsonb, $1
      FROM resolved r
      LEFT JOIN touchpoints t ON t.key = r.touchpoint
     WHERE r.target IS NOT NULL AND NOT r.erased
     ORDER BY r.target, r.occurred_at
    ON CONFLICT (external_id) DO NOTHING
    RETURNING 1
)
SELECT (SELECT count(*) FROM chunk) AS rows,
       (SELECT count(*) FROM inserted) AS created,
       coalesce((SELECT jsonb_agg(jsonb_build_object(
                            'line', r.line,
                            'problem', CASE WHEN r.target IS NULL THEN 'unknown' ELSE 'erased' END,
                            'customer_id', r.customer_id,
                            'customer_external_id', r.customer_external_id) ORDER BY r.line)
                   FROM resolved r
                  WHERE r.target IS NULL OR r.erased), '[]'::jsonb) AS refused;

-- name: drop_events_of_erased
-- What this import wrote for customers erased while it ran (see apply_events). The partial
-- index on erased customers makes this a few index probes.
WITH gone AS (
    DELETE FROM customer_events e
     USING customers c
     WHERE c.erased_at IS NOT NULL AND e.customer_id = c.id AND e.import_id = $1
    RETURNING 1
)
SELECT count(*) FROM gone;

-- name: drop_interactions_of_erased
WITH gone AS (
    DELETE FROM interactions i
     USING customers c
     WHERE c.erased_at IS NOT NULL AND i.customer_id = c.id AND i.import_id = $1
    RETURNING 1
)
SELECT count(*) FROM gone;

-- name: last_staged_line
SELECT max(line) FROM (
    SELECT max(line) AS line FROM import_customer_rows WHERE import_id = $1
    UNION ALL
    SELECT max(line) FROM import_event_rows WHERE import_id = $1
    UNION ALL
    SELECT max(line) FROM import_interaction_rows WHERE import_id = $1
) lines;
