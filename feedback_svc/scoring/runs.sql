-- Scoring runs (scoring/runs.py): every active customer scored in id ranges, by any number of
-- processes, then the proactive intake decided once.

-- name: lock_runs
-- Starting a run is decided one process at a time, so "is one due?" and the insert agree.
SELECT pg_advisory_xact_lock(hashtext('scoring-runs'));

-- name: running_run
SELECT * FROM scoring_runs WHERE status = 'running';

-- name: run_due
-- Due when no run started within the schedule's interval ($1), by the database's clock (one
-- clock for every process).
SELECT NOT EXISTS (SELECT 1 FROM scoring_runs WHERE started_at > now() - $1::interval);

-- name: schedule_due
-- The scheduler's cheap look before it loads a model: nothing running, nothing started lately.
SELECT NOT EXISTS (SELECT 1 FROM scoring_runs WHERE status = 'running' OR started_at > now() - $1::interval);

-- name: insert_run
-- Nothing when one runs already: the partial unique index holds whatever the lock missed.
INSERT INTO scoring_runs (trigger, requested_by, model_version, at_risk_rule, daily_limit, batch_size)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (status) WHERE status = 'running' DO NOTHING
RETURNING *;

-- name: range_edges
-- Every $1-th customer id in id order closes a range (keyset: one pass over the primary key).
SELECT id
  FROM (SELECT id, row_number() OVER (ORDER BY id) AS k FROM customers) numbered
 WHERE k % $1 = 0
 ORDER BY id;

-- name: insert_ranges
INSERT INTO scoring_run_ranges (run_id, n, after_id, last_id)
SELECT $1, r.n, r.after_id, r.last_id
  FROM unnest($2::int[], $3::uuid[], $4::uuid[]) AS r(n, after_id, last_id);

-- name: set_range_count
UPDATE scoring_runs SET ranges = $2 WHERE id = $1;

-- name: claim_range
-- The next range nobody holds, locked until the transaction that scores it commits (or dies with
-- its process, which gives the range back at once).
SELECT run_id, n, after_id, last_id, attempts
  FROM scoring_run_ranges
 WHERE run_id = $1 AND status = 'pending'
 ORDER BY n
 LIMIT 1
   FOR UPDATE SKIP LOCKED;

-- name: range_customers
-- A range's customers in id order, and whether each is active: not erased, and not known to have
-- churned (their latest `churned`/`reactivated` event, if any, is not `churned`), the same rule
-- as the training population's. The events index carries kind, so each look is index-only.
SELECT c.id,
       c.erased_at IS NULL
       AND coalesce((SELECT e.kind
                       FROM customer_events e
                      WHERE e.customer_id = c.id AND e.kind IN ('churned', 'reactivated')
                        AND e.occurred_at <= $3
                      ORDER BY e.occurred_at DESC
                      LIMIT 1), 'reactivated') <> 'churned' AS active
  FROM customers c
 WHERE ($1::uuid IS NULL OR c.id > $1)
   AND ($2::uuid IS NULL OR c.id <= $2)
 ORDER BY c.id;

-- name: finish_range
UPDATE scoring_run_ranges
   SET status = 'done', attempts = attempts + 1, scored = $3, skipped = $4, at_risk = $5, last_error = NULL,
       finished_at = now()
 WHERE run_id = $1 AND n = $2 AND status = 'pending';

-- name: fail_range
-- After a failed attempt: pending again, or failed for good after $4 attempts (the run goes on).
UPDATE scoring_run_ranges
   SET attempts = attempts + 1, last_error = $3,
       status = CASE WHEN attempts + 1 >= $4 THEN 'failed' ELSE 'pending' END,
       finished_at = CASE WHEN attempts + 1 >= $4 THEN now() END
 WHERE run_id = $1 AND n = $2 AND status = 'pending';

-- name: lock_running_run
-- The run's end is decided once: whoever locks it first while it runs.
SELECT * FROM scoring_runs WHERE id = $1 AND status = 'running' FOR UPDATE;

-- name: range_totals
SELECT count(*) FILTER (WHERE status = 'pending') AS pending,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       coalesce(sum(scored), 0)::int AS scored,
       coalesce(sum(skipped), 0)::int AS skipped,
       coalesce(sum(at_risk), 0)::int AS at_risk,
       (array_agg(last_error ORDER BY n) FILTER (WHERE status = 'failed'))[1] AS error
  FROM scoring_run_ranges
 WHERE run_id = $1;

-- name: finish_run
UPDATE scoring_runs
   SET status = $2, customers_scored = $3, customers_skipped = $4, at_risk = $5, tasks_opened = $6,
       already_queued = $7, left_out = $8, message = $9, error = $10, finished_at = now()
 WHERE id = $1
RETURNING *;

-- name: list_runs
-- Newest first; a running run's counts come from its ranges so far.
SELECT r.*, coalesce(p.done, 0) AS ranges_done, p.scored, p.skipped, p.at_risk AS at_risk_so_far
  FROM scoring_runs r
  LEFT JOIN LATERAL (
        SELECT count(*) FILTER (WHERE g.status <> 'pending') AS done,
               sum(g.scored)::int AS scored, sum(g.skipped)::int AS skipped, sum(g.at_risk)::int AS at_risk
          FROM scoring_run_ranges g
         WHERE g.run_id = r.id
  ) p ON true
 WHERE ($1::uuid IS NULL OR r.id = $1)
 ORDER BY r.started_at DESC, r.id
 LIMIT $2;
