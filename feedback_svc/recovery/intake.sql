-- The proactive intake (recovery/intake.py): at-risk scores into proactive tasks, at most
-- FEEDBACK_PROACTIVE_TASKS_PER_DAY a UTC day by every path together. The day's `queued` rows
-- are the ledger the limit counts.

-- name: lock_intake
-- Every decision that may take one of the day's places waits for the one before it, whichever
-- process or path it comes from, so the count it reads stays true until it commits.
SELECT pg_advisory_xact_lock(hashtext('proactive-intake'));

-- name: proactive_enabled
SELECT coalesce((SELECT enabled FROM recovery_rules WHERE trigger = 'churn_risk'), false);

-- name: intake_status
-- A redelivered event finds its score decided already: the first decision stands.
SELECT status FROM proactive_intake WHERE score_id = $1;

-- name: open_task_exists
SELECT EXISTS (SELECT 1 FROM recovery_tasks WHERE customer_id = $1 AND status = 'open');

-- name: queued_on
SELECT count(*) FROM proactive_intake WHERE day = $1 AND status = 'queued';

-- name: record_intake
-- One decision per score (its primary key): a concurrent delivery of the same event writes nothing.
INSERT INTO proactive_intake (score_id, customer_id, status, day, churn_probability, value_at_risk, decided_at)
VALUES ($1, $2, $3, $4, $5, $6, now())
ON CONFLICT (score_id) DO NOTHING;

-- name: insert_candidates
-- A run's at-risk scores, stored with them in the range's transaction; decided when the run ends.
INSERT INTO proactive_intake (score_id, customer_id, run_id, status, churn_probability, value_at_risk)
SELECT s.score_id, s.customer_id, $1, 'candidate', s.churn, s.value_at_risk
  FROM unnest($2::bigint[], $3::uuid[], $4::float8[], $5::float8[]) AS s(score_id, customer_id, churn, value_at_risk);

-- name: decide_run
-- A run's candidates, decided in one statement: customers with an open task, or queued today by
-- another path, are already in the queue; of the rest the $3 with the highest value at risk
-- (then churn probability, then id, so a tie is decided the same way every time) are queued and
-- the others left out for today ($2). Returns every decision.
WITH candidates AS (
    SELECT i.score_id, i.customer_id, i.value_at_risk, i.churn_probability,
           EXISTS (SELECT 1 FROM recovery_tasks t WHERE t.customer_id = i.customer_id AND t.status = 'open')
           OR EXISTS (SELECT 1 FROM proactive_intake q
                       WHERE q.customer_id = i.customer_id AND q.day = $2 AND q.status = 'queued')
               AS in_queue
      FROM proactive_intake i
     WHERE i.run_id = $1 AND i.status = 'candidate'
),
ranked AS (
    SELECT score_id, in_queue,
           row_number() OVER (PARTITION BY in_queue
                              ORDER BY value_at_risk DESC, churn_probability DESC, customer_id) AS place
      FROM candidates
)
UPDATE proactive_intake i
   SET status = CASE WHEN r.in_queue THEN 'already_queued'
                     WHEN r.place <= $3 THEN 'queued'
                     ELSE 'left_out' END,
       day = $2, decided_at = now()
  FROM ranked r
 WHERE i.score_id = r.score_id
RETURNING i.score_id, i.customer_id, i.status, i.value_at_risk;

-- name: drop_candidates
-- Proactive tasks are off (the churn_risk rule is disabled): a run's candidates are nobody's work.
DELETE FROM proactive_intake WHERE run_id = $1 AND status = 'candidate';

-- name: queued_scores
-- What the `customer.at_risk` event of each queued score carries, as POST /v1/scores sends it.
SELECT s.id AS score_id, s.customer_id, s.churn_probability, s.risk_band, s.value_at_risk, s.model_version,
       s.reasons
  FROM scores s
 WHERE s.id = ANY($1::bigint[])
 ORDER BY s.value_at_risk DESC, s.id;

-- name: forget_intake_before
-- Decisions older than the console and the runs look back: kept 90 days.
DELETE FROM proactive_intake WHERE day < $1;

-- name: intake_on
-- The queue's line: proactive tasks opened on day $1, and the at-risk customers left out that day
-- (each once, and not one queued later the same day).
SELECT count(*) FILTER (WHERE i.status = 'queued') AS opened,
       count(DISTINCT i.customer_id) FILTER (
           WHERE i.status = 'left_out'
             AND NOT EXISTS (SELECT 1 FROM proactive_intake q
                              WHERE q.customer_id = i.customer_id AND q.day = $1 AND q.status = 'queued')
       ) AS left_out
  FROM proactive_intake i
 WHERE i.day = $1;
