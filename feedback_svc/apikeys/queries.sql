-- name: insert_api_key
-- Only the hash of the secret part is stored; the key is shown once.
INSERT INTO api_keys (name, prefix, secret_hash, scopes, expires_at, agent)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING id, name, prefix, scopes, agent, created_at, expires_at, revoked_at, last_used_at;

-- name: find_api_key
-- Authentication: look the key up by its public prefix, then compare hashes in Python.
UPDATE api_keys
   SET last_used_at = now()
 WHERE prefix = $1
RETURNING id, name, secret_hash, scopes, agent, expires_at, revoked_at;

-- name: list_api_keys
SELECT id, name, prefix, scopes, agent, created_at, expires_at, revoked_at, last_used_at
  FROM api_keys
 ORDER BY created_at;

-- name: revoke_api_key
UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
 WHERE id = $1
RETURNING id, name, prefix, scopes, agent, created_at, expires_at, revoked_at, last_used_at;
