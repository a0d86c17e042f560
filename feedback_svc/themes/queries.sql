-- name: insert_run
-- Nothing when a run is queued or running already: the partial unique index decides between
-- concurrent requests and the scheduler, whichever process they came through.
INSERT INTO theme_runs (requested_by) VALUES ($1)
    ON CONFLICT ((true)) WHERE status IN ('queued', 'running') DO NOTHING
RETURNING id, status, requested_by, message, error, summary,
          created_at, started_at, finished_at;

-- name: active_run
SELECT id, status, requested_by, message, error, summary,
       created_at, started_at, finished_at
  FROM theme_runs
 WHERE status IN ('queued', 'running');

-- name: get_run
SELECT id, status, requested_by, message, error, summary,
       created_at, started_at, finished_at
  FROM theme_runs
 WHERE id = $1;

-- name: list_runs
SELECT id, status, requested_by, message, error, summary,
       created_at, started_at, finished_at
  FROM theme_runs
 ORDER BY created_at DESC, id DESC
 LIMIT $1;

-- name: close_orphaned_runs
-- A run whose outbox job is no longer pending (buried after its last attempt) will never
-- finish; left open, it would keep every later run from starting.
UPDATE theme_runs r
   SET status = 'failed', finished_at = now(), message = 'its background job ended without a result',
       error = coalesce((SELECT o.last_error FROM outbox o WHERE o.dedupe_key = $1 || r.id::text),
                        'its background job is gone')
 WHERE r.status IN ('queued', 'running')
   AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.dedupe_key = $1 || r.id::text AND o.status = 'pending');

-- name: start_run
-- A redelivered job whose run already finished does nothing (at-least-once delivery).
UPDATE theme_runs
   SET status = 'running', started_at = coalesce(started_at, now()), error = NULL
 WHERE id = $1 AND status IN ('queued', 'running')
RETURNING id;

-- name: finish_run
UPDATE theme_runs
   SET status = $2, message = $3, error = $4, summary = $5, finished_at = now()
 WHERE id = $1;

-- name: run_due
-- Whether the scheduler should start a run: none for `$1` or longer and comments answered since
-- the last one finished (or no run ever, and some comments). Cheap: two index probes.
WITH last AS (
    SELECT max(created_at) AS at FROM theme_runs WHERE status <> 'failed'
)
SELECT (last.at IS NULL OR last.at < now() - $1::interval)
       AND EXISTS (SELECT 1 FROM responses r
                    WHERE r.comment IS NOT NULL
                      AND r.answered_at >= coalesce(last.at, '-infinity'::timestamptz))
  FROM last;

-- name: comments
-- The comments a run learns from: answered in the window, not erased (erasure blanks the text
-- anyway), newest first, at most $2 of them. The language is the customer's locale's.
SELECT r.id, r.comment, c.locale
  FROM responses r
  JOIN customers c ON c.id = r.customer_id
 WHERE r.comment IS NOT NULL AND length(btrim(r.comment)) >= 3
   AND r.answered_at >= $1
   AND c.erased_at IS NULL
 ORDER BY r.answered_at DESC, r.id DESC
 LIMIT $2;

-- name: all_themes
SELECT id, locale, label, label_source, top_words, signature, status,
       merged_into, comments
  FROM themes
 ORDER BY id;

-- name: lock_themes
-- Runs, renames and merges change themes one at a time: a merge never lands between a run's
-- matching and its writes.
SELECT pg_advisory_xact_lock(hashtextextended('themes', 0));

-- name: update_theme_found
-- A run found this theme again: new words and signature, active again unless merged away.
UPDATE themes
   SET top_words = $2, signature = $3, last_run_id = $4, updated_at = now(),
       status = CASE WHEN status = 'merged' THEN status ELSE 'active' END
 WHERE id = $1;

-- name: insert_theme
INSERT INTO themes (locale, label, top_words, signature, first_run_id, last_run_id)
VALUES ($1, $2, $3, $4, $5, $5)
RETURNING id;

-- name: rest_unfound_themes
-- Themes of a language this run did not find again: kept (id, label), no longer current.
UPDATE themes
   SET status = 'dormant', updated_at = now()
 WHERE locale = $1 AND status = 'active' AND NOT (id = ANY($2::bigint[]));

-- name: clear_assignments
-- The run reassigns every comment it read: the ones it read lose their old theme first.
DELETE FROM theme_assignments WHERE response_id = ANY($1::uuid[]);

-- name: insert_assignments
INSERT INTO theme_assignments (response_id, theme_id, weight, run_id)
SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::real[], $4::uuid[]);

-- name: count_comments
-- Each theme's number of comments, after a run or a merge.
UPDATE themes t
   SET comments = n.comments
  FROM (SELECT x.id, (SELECT count(*) FROM theme_assignments a WHERE a.theme_id = x.id)::int AS comments
          FROM themes x) n
 WHERE t.id = n.id AND t.comments <> n.comments;

-- name: list_themes
SELECT id, locale, label, label_source, top_words, status, merged_into, comments,
       renamed_by, renamed_at, merged_by, merged_at, created_at, updated_at
  FROM themes
 WHERE ($1::text IS NULL OR locale = $1)
   AND ($2::boolean OR status <> 'merged')
 ORDER BY status = 'merged', status = 'dormant', comments DESC, id;

-- name: get_theme
SELECT id, locale, label, label_source, top_words, status, merged_into, comments,
       renamed_by, renamed_at, merged_by, merged_at, created_at, updated_at
  FROM themes
 WHERE id = $1;

-- name: lock_theme
SELECT id, status, merged_into FROM themes WHERE id = $1 FOR UPDATE;

-- name: rename_theme
UPDATE themes
   SET label = $2, label_source = 'manager', renamed_by = $3, renamed_at = now(), updated_at = now()
 WHERE id = $1;

-- name: merge_theme
-- The source and every theme merged into it before now point at the target, and so do their
-- comments; later runs that find the source's topic again give its comments to the target.
WITH moved AS (
    UPDATE theme_assignments SET theme_id = $2 WHERE theme_id = $1
), followers AS (
    UPDATE themes SET merged_into = $2, updated_at = now() WHERE merged_into = $1
)
UPDATE themes
   SET status = 'merged', merged_into = $2, merged_by = $3, merged_at = now(), updated_at = now()
 WHERE id = $1;

-- name: theme_examples
-- What customers said, quoted from the answers themselves: an erased customer's comment is
-- blank there, and so is gone from here. Most typical (largest weight) first, then newest.
SELECT r.id AS response_id, r.kind, r.score, r.comment, r.answered_at, r.touchpoint, a.weight
  FROM theme_assignments a
  JOIN responses r ON r.id = a.response_id
  JOIN customers c ON c.id = r.customer_id
 WHERE a.theme_id = $1 AND r.comment IS NOT NULL AND c.erased_at IS NULL
 ORDER BY a.weight DESC, r.answered_at DESC, r.id
 LIMIT $2;

-- name: erase_assignments
-- Erasure: the customer's comments are blanked, so what a run made of them goes too.
DELETE FROM theme_assignments a
 USING responses r
 WHERE r.id = a.response_id AND r.customer_id = $1;

-- name: score_counts
-- Answers with a themed comment in [$1, $2), counted per theme, kind and score ($3: one
-- theme's locale or all).
SELECT a.theme_id, r.kind, r.score, count(*)::int AS answers
  FROM theme_assignments a
  JOIN responses r ON r.id = a.response_id
  JOIN themes t ON t.id = a.theme_id
 WHERE r.answered_at >= $1 AND r.answered_at < $2
   AND ($3::text IS NULL OR t.locale = $3)
 GROUP BY 1, 2, 3;

-- name: churn_by_theme
-- Customers with a themed comment in [$1, $2), and who of them churned from $1 on, per theme;
-- with the population's totals so each theme can be compared with the rest (as drivers do).
WITH exposure AS (
    SELECT DISTINCT r.customer_id, a.theme_id
      FROM theme_assignments a
      JOIN responses r ON r.id = a.response_id
      JOIN themes t ON t.id = a.theme_id
     WHERE r.answered_at >= $1 AND r.answered_at < $2
       AND ($3::text IS NULL OR t.locale = $3)
), churned AS (
    SELECT DISTINCT customer_id FROM customer_events WHERE kind = 'churned' AND occurred_at >= $1
), totals AS (
    SELECT count(DISTINCT e.customer_id)::int AS population,
           count(DISTINCT ch.customer_id)::int AS population_churned
      FROM exposure e
      LEFT JOIN churned ch ON ch.customer_id = e.customer_id
)
SELECT e.theme_id,
       count(*)::int AS customers,
       count(ch.customer_id)::int AS churned,
       t.population,
       t.population_churned
  FROM exposure e
  LEFT JOIN churned ch ON ch.customer_id = e.customer_id
 CROSS JOIN totals t
 GROUP BY e.theme_id, t.population, t.population_churned;

-- name: monthly_counts
-- Themed comments per month (UTC) and theme in [$1, $2): the trend of each theme's share.
SELECT date_trunc('month', r.answered_at AT TIME ZONE 'UTC')::date AS month, a.theme_id,
       count(*)::int AS comments
  FROM theme_assignments a
  JOIN responses r ON r.id = a.response_id
  JOIN themes t ON t.id = a.theme_id
 WHERE r.answered_at >= $1 AND r.answered_at < $2
   AND ($3::text IS NULL OR t.locale = $3)
 GROUP BY 1, 2
 ORDER BY 1, 2;

-- name: theme_choices
-- Themes with comments, for filters.
SELECT id, label, locale FROM themes WHERE status <> 'merged' AND comments > 0 ORDER BY label, id;
