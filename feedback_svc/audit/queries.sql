-- name: insert_entry
INSERT INTO audit_log (actor_type, actor_id, action, target_type, target_id, details, request_id)
VALUES ($1, $2, $3, $4, $5, $6, $7);

-- name: list_entries
-- Newest first, keyset-paginated on id (ids grow with time); every filter optional.
SELECT id, actor_type, actor_id, action, target_type, target_id, details, request_id, created_at
  FROM audit_log
 WHERE ($1::bigint IS NULL OR id < $1)
   AND ($2::text IS NULL OR actor_type = $2)
   AND ($3::text IS NULL OR actor_id = $3)
   AND ($4::text IS NULL OR action LIKE $4 || '%')
   AND ($5::text IS NULL OR target_id = $5)
   AND ($6::timestamptz IS NULL OR created_at >= $6)
   AND ($7::timestamptz IS NULL OR created_at < $7)
 ORDER BY id DESC
 LIMIT $8;
