-- name: claim_idempotency_key
-- First use of a key (or reuse of an expired one) claims it inside the caller's
-- transaction; a concurrent request with the same key blocks on the row lock
-- until lock_timeout ($7), which the caller turns into 409. The wait is bounded
-- only for this statement, without SET LOCAL round trips of its own: the row to
-- insert comes from `bounded`, so the transaction-local lock_timeout is set before
-- the insert can wait, and RETURNING (after any wait) puts back the value `before`
-- read. With no row back (the key is taken) it stays set until the caller's
-- transaction ends, which is at once.
WITH before AS MATERIALIZED (
    SELECT current_setting('lock_timeout') AS lock_timeout
),
bounded AS MATERIALIZED (
    SELECT set_config('lock_timeout', $7, true) FROM before
)
INSERT INTO idempotency_keys AS k (api_key_id, key, method, path, request_hash, expires_at)
SELECT $1, $2, $3, $4, $5, now() + $6::interval
  FROM bounded
ON CONFLICT (api_key_id, key) DO UPDATE
   SET method = excluded.method, path = excluded.path, request_hash = excluded.request_hash,
       response_status = NULL, response_body = NULL, created_at = now(), expires_at = excluded.expires_at
 WHERE k.expires_at <= now()
RETURNING set_config('lock_timeout', (SELECT lock_timeout FROM before), true) IS NOT NULL;

-- name: stored_idempotent_response
SELECT method, path, request_hash, response_status, response_body
  FROM idempotency_keys
 WHERE api_key_id = $1 AND key = $2;

-- name: store_idempotent_response
UPDATE idempotency_keys
   SET response_status = $3, response_body = $4
 WHERE api_key_id = $1 AND key = $2;
