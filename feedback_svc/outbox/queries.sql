-- name: enqueue
-- Written in the caller's transaction: the work exists if and only if the change does.
-- A dedupe key makes a second enqueue of the same work a no-op.
INSERT INTO outbox (topic, payload, ordering_key, dedupe_key, run_after)
VALUES ($1, $2, $3, $4, coalesce($5, now()))
ON CONFLICT (dedupe_key) DO NOTHING
RETURNING id;

-- name: enqueue_many
-- Many jobs of one topic in one statement (a round trip each cost more than the insert),
-- inserted in the order given; a dedupe key seen before leaves its job out. Payloads come
-- as JSON text: jsonb keeps the same value whichever way it was parsed.
INSERT INTO outbox (topic, payload, ordering_key, dedupe_key, run_after)
SELECT $1, j.payload::jsonb, j.ordering_key, j.dedupe_key, now()
  FROM unnest($2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS j(payload, ordering_key, dedupe_key, n)
 ORDER BY j.n
    ON CONFLICT (dedupe_key) DO NOTHING
RETURNING id;

-- name: claim_jobs
-- One statement claims a batch for this worker: SKIP LOCKED lets any number of
-- workers claim side by side, and the lease (locked_until) hands a job back if
-- its worker dies. attempts counts claims, so a job that kills its worker
-- still runs out of attempts.
WITH next AS (
    SELECT id
      FROM outbox
     WHERE status = 'pending'
       AND topic = ANY($1::text[])
       AND run_after <= now()
       AND (locked_until IS NULL OR locked_until < now())
     ORDER BY run_after, id
     LIMIT $3
       FOR UPDATE SKIP LOCKED
)
UPDATE outbox o
   SET locked_by = $2,
       locked_until = now() + $4::interval,
       attempts = o.attempts + 1
  FROM next
 WHERE o.id = next.id
RETURNING o.id, o.topic, o.payload, o.attempts;

-- name: complete_job
UPDATE outbox
   SET status = 'done', finished_at = now(), locked_by = NULL, locked_until = NULL, last_error = NULL
 WHERE id = $1 AND locked_by = $2;

-- name: retry_job
UPDATE outbox
   SET run_after = now() + $3::interval, locked_by = NULL, locked_until = NULL, last_error = $4
 WHERE id = $1 AND locked_by = $2;

-- name: defer_job
-- The handler found its work not due yet after all: the same job runs again at $3, and the
-- claim that found it out is given back (it was no failed attempt). $4 says why, for people.
UPDATE outbox
   SET run_after = $3, attempts = greatest(attempts - 1, 0), locked_by = NULL, locked_until = NULL,
       last_error = $4
 WHERE id = $1 AND locked_by = $2;

-- name: bury_job
-- Out of attempts or permanently failed: kept for inspection and replay.
UPDATE outbox
   SET status = 'dead', finished_at = now(), locked_by = NULL, locked_until = NULL, last_error = $3
 WHERE id = $1 AND locked_by = $2;
