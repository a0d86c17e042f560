-- name: list_rules
SELECT trigger, urgency, enabled, recipients, updated_at
  FROM alert_rules
 ORDER BY array_position(ARRAY['contact_request','high_value_detractor','deadline_near','escalated'], trigger),
          urgency;

-- name: get_rule
SELECT trigger, urgency, enabled, recipients, updated_at FROM alert_rules WHERE trigger = $1 AND urgency = $2;

-- name: update_rule
UPDATE alert_rules
   SET enabled = $3, recipients = $4, updated_at = now()
 WHERE trigger = $1 AND urgency = $2
RETURNING trigger, urgency, enabled, recipients, updated_at;

-- name: known_user_ids
SELECT id FROM users WHERE id = ANY($1::uuid[]);

-- name: people_to_alert
-- Enabled console users by role, by id, or the task's owner (by email, in any case).
SELECT id, email
  FROM users
 WHERE disabled_at IS NULL
   AND (role = ANY($1::text[]) OR id = ANY($2::uuid[]) OR lower(email) = lower($3::text))
 ORDER BY email;

-- name: insert_alerts
-- One row per recipient; the unique key (task, trigger, occasion, channel, recipient) makes a
-- second raise of the same alert, by a redelivered event or a racing sweep, add nothing.
INSERT INTO alerts (task_id, trigger, urgency, occasion, channel, recipient, user_id)
SELECT $1, $2, $3, $4, r.channel, r.recipient, r.user_id
  FROM unnest($5::text[], $6::text[], $7::uuid[]) AS r (channel, recipient, user_id)
ON CONFLICT DO NOTHING
RETURNING id;

-- name: claim_alerts
-- One statement claims every due alert of up to $2 recipients: SKIP LOCKED lets runners in many
-- processes claim side by side, the lease (locked_by, locked_until) hands alerts back if their
-- runner dies, and attempts counts claims, so one that kills its runner still runs out of attempts.
-- the recipients whose alerts have waited longest: a storm for one person is claimed whole, so
-- it becomes one message however many alerts it has
WITH heads AS (
    SELECT channel, recipient
      FROM alerts
     WHERE status = 'pending'
       AND next_attempt_at <= now()
       AND (locked_until IS NULL OR locked_until < now())
     GROUP BY channel, recipient
     ORDER BY min(next_attempt_at), min(id)
     LIMIT $2
),
due AS (
    SELECT a.id
      FROM alerts a
      JOIN heads h ON h.channel = a.channel AND h.recipient = a.recipient
     WHERE a.status = 'pending'
       AND a.next_attempt_at <= now()
       AND (a.locked_until IS NULL OR a.locked_until < now())
       FOR UPDATE OF a SKIP LOCKED
),
-- the claimed alerts of one recipient make one message, keyed by its first alert's id; an
-- alert already in a message (a retry, or one whose runner died) stays in that message, so it
-- goes out again as the same message with the same id
grouped AS (
    SELECT a.id,
           coalesce(a.message_key,
                    min(a.id) FILTER (WHERE a.message_key IS NULL) OVER (PARTITION BY a.channel, a.recipient))
               AS message_key
      FROM alerts a
      JOIN due ON due.id = a.id
)
UPDATE alerts a
   SET locked_by = $1, locked_until = now() + $3::interval, attempts = a.attempts + 1,
       message_key = g.message_key
  FROM grouped g
 WHERE a.id = g.id
RETURNING a.id, a.message_key, a.channel, a.recipient, a.attempts;

-- name: alert_context
-- What a message says about each alert: the task now, its customer, its owner, the answer that
-- caused it, and the reader (their time zone; a disabled account gets nothing).
SELECT a.id, a.task_id, a.trigger, a.urgency, a.channel, a.recipient, a.user_id, a.attempts,
       a.message_key, a.created_at,
       t.status AS task_status, t.first_contact_at, t.escalated_at, t.deadline_at, t.priority,
       t.trigger AS task_trigger, t.touchpoint, t.critical, t.value_at_risk,
       coalesce(t.assignee, CASE WHEN t.lease_expires_at > now() THEN t.lease_holder END) AS owner,
       coalesce(o.name, t.assignee, CASE WHEN t.lease_expires_at > now() THEN t.lease_holder END) AS owner_name,
       c.name AS customer_name, c.external_id AS customer_external_id, c.value AS customer_value,
       cause.kind AS cause_kind, cause.score AS cause_score,
       u.time_zone, u.disabled_at IS NOT NULL AS user_disabled
  FROM alerts a
  JOIN recovery_tasks t ON t.id = a.task_id
  JOIN customers c ON c.id = t.customer_id
  LEFT JOIN users u ON u.id = a.user_id
  LEFT JOIN users o ON lower(o.email) = lower(coalesce(t.assignee,
                                                       CASE WHEN t.lease_expires_at > now() THEN t.lease_holder END))
  LEFT JOIN LATERAL (
        SELECT r.kind, r.score
          FROM recovery_evidence e
          JOIN responses r ON r.id = e.response_id
         WHERE e.task_id = t.id
         ORDER BY e.id DESC
         LIMIT 1
  ) cause ON true
 WHERE a.id = ANY($1::bigint[])
 ORDER BY a.id;

-- name: recent_messages
-- The messages sent to one recipient within the window, and when the oldest of them went.
SELECT count(DISTINCT message_key) AS messages, min(sent_at) AS oldest
  FROM alerts
 WHERE channel = $1 AND recipient = $2 AND status = 'sent' AND sent_at > now() - $3::interval;

-- name: mark_sent
-- Settles only while the lease is ours.
UPDATE alerts
   SET status = 'sent', sent_at = now(), locked_by = NULL, locked_until = NULL, error = NULL
 WHERE id = ANY($1::bigint[]) AND locked_by = $2;

-- name: mark_retry
UPDATE alerts
   SET next_attempt_at = now() + $3::interval, locked_by = NULL, locked_until = NULL, error = $4
 WHERE id = ANY($1::bigint[]) AND locked_by = $2;

-- name: mark_failed
UPDATE alerts
   SET status = 'failed', locked_by = NULL, locked_until = NULL, error = $3
 WHERE id = ANY($1::bigint[]) AND locked_by = $2;

-- name: cancel_alerts
-- No longer worth sending (the task was resolved or the customer contacted meanwhile): kept, with why.
UPDATE alerts
   SET status = 'cancelled', locked_by = NULL, locked_until = NULL, error = $3
 WHERE id = ANY($1::bigint[]) AND locked_by = $2;

-- name: defer_alerts
-- The recipient had their hour's share of messages: these wait for the next free moment, when
-- they go out together with whatever else waits for the same recipient. Not a try: a deferral
-- gives the claim's attempt back and, for alerts never sent, leaves the message open.
UPDATE alerts
   SET next_attempt_at = $3, locked_by = NULL, locked_until = NULL, attempts = attempts - 1,
       message_key = CASE WHEN attempts - 1 = 0 THEN NULL ELSE message_key END
 WHERE id = ANY($1::bigint[]) AND locked_by = $2;

-- name: list_alerts
-- Newest first; $5 pages back from an id.
SELECT a.*, c.name AS customer_name, c.external_id AS customer_external_id
  FROM alerts a
  JOIN recovery_tasks t ON t.id = a.task_id
  JOIN customers c ON c.id = t.customer_id
 WHERE ($1::text IS NULL OR a.status = $1)
   AND ($2::text IS NULL OR a.trigger = $2)
   AND ($3::uuid IS NULL OR a.task_id = $3)
   AND ($4::text IS NULL OR a.channel = $4)
   AND ($5::bigint IS NULL OR a.id < $5)
 ORDER BY a.id DESC
 LIMIT $6;

-- name: alert_counts
-- The numbers above the console's list.
SELECT count(*) FILTER (WHERE status = 'pending') AS pending,
       count(*) FILTER (WHERE status = 'sent' AND sent_at > now() - interval '24 hours') AS sent_24h,
       count(*) FILTER (WHERE status = 'failed') AS failed
  FROM alerts;
