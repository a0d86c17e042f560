-- name: insert_endpoint
INSERT INTO webhook_endpoints (url, description, secret, event_types, disabled_at, disabled_reason)
VALUES ($1, $2, $3, $4, CASE WHEN $5 THEN NULL ELSE now() END, CASE WHEN $5 THEN NULL ELSE 'disabled by an admin' END)
RETURNING *;

-- name: list_endpoints
SELECT * FROM webhook_endpoints ORDER BY created_at, id;

-- name: get_endpoint
SELECT * FROM webhook_endpoints WHERE id = $1;

-- name: update_endpoint
-- NULL leaves a field as it is; $5 enables (true) or disables (false). Disabling keeps
-- pending deliveries waiting; they go out again once the endpoint is enabled.
UPDATE webhook_endpoints
   SET url = coalesce($2::text, url),
       description = CASE WHEN $3::boolean THEN $4::text ELSE description END,
       event_types = coalesce($6::text[], event_types),
       disabled_at = CASE WHEN $5::boolean IS NULL THEN disabled_at
                          WHEN $5::boolean THEN NULL
                          ELSE coalesce(disabled_at, now()) END,
       disabled_reason = CASE WHEN $5::boolean IS NULL THEN disabled_reason
                              WHEN $5::boolean THEN NULL
                              ELSE coalesce(disabled_reason, 'disabled by an admin') END,
       updated_at = now()
 WHERE id = $1
RETURNING *;

-- name: delete_endpoint
DELETE FROM webhook_endpoints WHERE id = $1 RETURNING id;

-- name: rotate_secret
-- The old secret keeps signing beside the new one until $3, so receivers can switch over.
UPDATE webhook_endpoints
   SET previous_secret = secret,
       previous_secret_until = now() + $3::interval,
       secret = $2,
       updated_at = now()
 WHERE id = $1
RETURNING *;

-- name: customer_external_id
SELECT external_id FROM customers WHERE id = $1;

-- name: fan_out_event
-- One delivery per enabled endpoint subscribed to the event's type. The message id comes
-- from the event id, so a redelivered event adds nothing (unique per endpoint). The ordering
-- key is the one the event was written with, so the claim's ordering rule can see its outbox
-- row. A delivery queued behind a customer's delivery that is backing off is not due before
-- it: a long outage leaves no pile of due-but-blocked rows for every claim to step over.
WITH event AS (
    SELECT coalesce(o.ordering_key, $5) AS ordering_key, coalesce(o.created_at, now()) AS created_at
      FROM (SELECT 1) AS one
      LEFT JOIN outbox o ON o.id = $1
)
INSERT INTO webhook_deliveries
    (endpoint_id, message_id, event_type, payload, ordering_key, event_id, next_attempt_at)
SELECT e.id,
       $2,
       $3,
       jsonb_build_object(
           'type', $3::text,
           'timestamp', to_char(event.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
           'data', $4::jsonb),
       event.ordering_key,
       $1,
       greatest(now(), (SELECT max(p.next_attempt_at) FROM webhook_deliveries p
                         WHERE p.endpoint_id = e.id
                           AND p.ordering_key = event.ordering_key
                           AND p.status = 'pending'))
  FROM webhook_endpoints e, event
 WHERE e.disabled_at IS NULL
   AND $3 = ANY (e.event_types)
ON CONFLICT (endpoint_id, message_id) DO NOTHING;

-- name: claim_deliveries
-- One statement claims a batch: SKIP LOCKED lets runners in many processes claim side by
-- side; the lease (locked_until, locked_by) hands a delivery back if its runner dies, and
-- attempts counts claims, so one that kills its runner still runs out of attempts.
WITH due AS (
    SELECT d.id
      FROM webhook_deliveries d
      JOIN webhook_endpoints e ON e.id = d.endpoint_id AND e.disabled_at IS NULL
     WHERE d.status = 'pending'
       AND d.next_attempt_at <= now()
       AND (d.locked_until IS NULL OR d.locked_until < now())
       -- in order per customer: an earlier unfinished delivery to this endpoint (due,
       -- backing off or in flight) goes first ...
       AND (d.ordering_key IS NULL OR NOT EXISTS (
               SELECT 1 FROM webhook_deliveries earlier
                WHERE earlier.endpoint_id = d.endpoint_id
                  AND earlier.ordering_key = d.ordering_key
                  AND earlier.status = 'pending'
                  AND earlier.event_id < d.event_id))
       -- ... and so does an earlier event of the customer not yet fanned out
       AND (d.ordering_key IS NULL OR NOT EXISTS (
               SELECT 1 FROM outbox o
                WHERE o.topic = 'event'
                  AND o.status = 'pending'
                  AND o.ordering_key = d.ordering_key
                  AND o.id < d.event_id))
     ORDER BY d.next_attempt_at, d.id
     LIMIT $2
       FOR UPDATE OF d SKIP LOCKED
)
UPDATE webhook_deliveries d
   SET locked_by = $1,
       locked_until = now() + $3::interval,
       attempts = d.attempts + 1,
       last_attempt_at = now()
  FROM due, webhook_endpoints e
 WHERE d.id = due.id
   AND e.id = d.endpoint_id
RETURNING d.id, d.endpoint_id, d.message_id, d.event_type, d.payload, d.attempts,
          e.url, e.secret,
          CASE WHEN e.previous_secret_until > now() THEN e.previous_secret END AS previous_secret;

-- name: mark_succeeded
-- Settles only while the lease is ours. The customer's next deliveries, held back behind
-- this one, are due now.
WITH head AS (
    UPDATE webhook_deliveries
       SET status = 'succeeded', delivered_at = now(), locked_by = NULL, locked_until = NULL,
           last_status_code = $3, last_error = NULL
     WHERE id = $1 AND locked_by = $2
    RETURNING endpoint_id, ordering_key, event_id
)
UPDATE webhook_deliveries f
   SET next_attempt_at = now()
  FROM head
 WHERE f.endpoint_id = head.endpoint_id
   AND f.ordering_key = head.ordering_key
   AND f.status = 'pending'
   AND f.event_id > head.event_id
   AND f.attempts = 0
   AND f.next_attempt_at > now();

-- name: mark_retry
-- The customer's later deliveries wait for this one, so they are not due before it either.
WITH head AS (
    UPDATE webhook_deliveries
       SET next_attempt_at = now() + $3::interval, locked_by = NULL, locked_until = NULL,
           last_status_code = $4, last_error = $5
     WHERE id = $1 AND locked_by = $2
    RETURNING endpoint_id, ordering_key, event_id, next_attempt_at
)
UPDATE webhook_deliveries f
   SET next_attempt_at = head.next_attempt_at
  FROM head
 WHERE f.endpoint_id = head.endpoint_id
   AND f.ordering_key = head.ordering_key
   AND f.status = 'pending'
   AND f.event_id > head.event_id
   AND f.next_attempt_at < head.next_attempt_at;

-- name: mark_failed
-- Out of attempts: kept for inspection and replay; the customer's later deliveries go on.
WITH head AS (
    UPDATE webhook_deliveries
       SET status = 'failed', locked_by = NULL, locked_until = NULL,
           last_status_code = $3, last_error = $4
     WHERE id = $1 AND locked_by = $2
    RETURNING endpoint_id, ordering_key, event_id
)
UPDATE webhook_deliveries f
   SET next_attempt_at = now()
  FROM head
 WHERE f.endpoint_id = head.endpoint_id
   AND f.ordering_key = head.ordering_key
   AND f.status = 'pending'
   AND f.event_id > head.event_id
   AND f.attempts = 0
   AND f.next_attempt_at > now();

-- name: disable_gone_endpoint
-- The receiver answered 410 Gone: the endpoint is disabled and its pending deliveries
-- stop (they can still be replayed once it is enabled again).
WITH settled AS (
    UPDATE webhook_deliveries
       SET status = 'disabled', locked_by = NULL, locked_until = NULL,
           last_status_code = 410, last_error = $3
     WHERE id = $1 AND locked_by = $2
    RETURNING endpoint_id
), endpoint AS (
    UPDATE webhook_endpoints e
       SET disabled_at = coalesce(e.disabled_at, now()),
           disabled_reason = 'the receiver answered 410 Gone',
           updated_at = now()
      FROM settled
     WHERE e.id = settled.endpoint_id
    RETURNING e.id
)
UPDATE webhook_deliveries d
   SET status = 'disabled', last_error = 'endpoint disabled: the receiver answered 410 Gone'
  FROM endpoint
 WHERE d.endpoint_id = endpoint.id
   AND d.status = 'pending'
   AND d.id <> $1;

-- name: list_deliveries
-- Newest first; $3 pages back from an id, $2 filters by status.
SELECT * FROM webhook_deliveries
 WHERE endpoint_id = $1
   AND ($2::text IS NULL OR status = $2)
   AND ($3::bigint IS NULL OR id < $3)
 ORDER BY id DESC
 LIMIT $4;

-- name: get_delivery
SELECT * FROM webhook_deliveries WHERE endpoint_id = $1 AND id = $2;

-- name: replay_delivery
-- Sent again from the start of the schedule with the same message id, so a receiver that
-- already has it can tell. One in flight keeps its lease; a pending one simply goes now.
UPDATE webhook_deliveries
   SET status = 'pending',
       attempts = CASE WHEN status = 'pending' THEN attempts ELSE 0 END,
       next_attempt_at = now(),
       delivered_at = NULL
 WHERE endpoint_id = $1 AND id = $2
RETURNING *;
