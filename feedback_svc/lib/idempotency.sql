-- name: claim_idempotency_key
-- First use of a key (or reuse of an expired one) claims it inside the caller's
-- transaction; a concurrent request with the same key blocks on the row lock
-- until lock_timeout, which the caller turns into 409.
INSERT INTO idempotency_keys AS k (api_key_id, key, method, path, request_hash, expires_at)
VALUES ($1, $2, $3, $4, $5, now() + $6::interval)
ON CONFLICT (api_key_id, key) DO UPDATE
   SET method = excluded.method, path = excluded.path, request_hash = excluded.request_hash,
       response_status = NULL, response_body = NULL, created_at = now(), expires_at = excluded.expires_at
 WHERE k.expires_at <= now()
RETURNING true;

-- name: stored_idempotent_response
SELECT method, path, request_hash, response_status, response_body
  FROM idempotency_keys
 WHERE api_key_id = $1 AND key = $2;

-- name: store_idempotent_response
UPDATE idempotency_keys
   SET response_status = $3, response_body = $4
 WHERE api_key_id = $1 AND key = $2;
