-- name: insert_inbound_message
-- The provider redelivers when it misses our answer: the same MessageSid is stored once.
INSERT INTO inbound_messages (provider_message_id, from_phone, body, received_at)
VALUES ($1, $2, $3, coalesce($4::timestamptz, now()))
ON CONFLICT (provider_message_id) DO NOTHING
RETURNING provider_message_id;

-- name: inbound_message
SELECT provider_message_id, from_phone, body, received_at, processed_at, outcome
  FROM inbound_messages
 WHERE provider_message_id = $1;

-- name: lock_phone
-- Serialises the processing of one number's messages across workers, whether or not
-- a conversation row exists yet (a first STOP from an unknown number has none).
SELECT pg_advisory_xact_lock(hashtextextended('sms_inbound:' || $1, 0));

-- name: pending_messages_upto
-- Every unprocessed message from this number up to the one the job names, oldest first,
-- so "10/10" is read before "fast delivery" even when their jobs run out of order.
SELECT provider_message_id, from_phone, body, received_at
  FROM inbound_messages
 WHERE from_phone = $1
   AND processed_at IS NULL
   AND (received_at, provider_message_id) <= ($2::timestamptz, $3::text)
 ORDER BY received_at, provider_message_id
   FOR UPDATE;

-- name: mark_message_processed
UPDATE inbound_messages SET processed_at = $2, outcome = $3 WHERE provider_message_id = $1;

-- name: conversation_for_phone
SELECT phone, invitation_id, state, reprompted FROM sms_conversations WHERE phone = $1 FOR UPDATE;

-- name: update_conversation
UPDATE sms_conversations SET state = $2, reprompted = $3, updated_at = $4 WHERE phone = $1;

-- name: close_unknown_conversation
-- A number we have no conversation with got its one help text; the closed row keeps it at one.
INSERT INTO sms_conversations (phone, invitation_id, state, reprompted, updated_at)
VALUES ($1, NULL, 'closed', true, $2)
ON CONFLICT (phone) DO UPDATE SET state = 'closed', reprompted = true, updated_at = excluded.updated_at;

-- name: customer_for_phone
-- Who a number belongs to when no conversation says so: the most recently updated customer.
SELECT id, locale, time_zone
  FROM customers
 WHERE phone = $1 AND erased_at IS NULL
 ORDER BY updated_at DESC
 LIMIT 1;

-- name: sms_suppressed
SELECT EXISTS (
    SELECT 1 FROM suppressions
     WHERE channel = 'sms' AND lifted_at IS NULL
       -- an erased customer's opt-out is kept as a hash (privacy/queries.sql)
       AND address IN ($1, 'sha256:' || encode(sha256(convert_to($1, 'UTF8')), 'hex'))
);

-- name: insert_sms_stop
-- No row back: the number was already opted out, so it gets no second confirmation.
INSERT INTO suppressions (channel, address, customer_id, reason, created_at)
VALUES ('sms', $1, $2, 'sms_stop', $3)
ON CONFLICT (channel, address) WHERE lifted_at IS NULL DO NOTHING
RETURNING id;

-- name: lift_sms_suppression
-- START undoes the customer's own STOP only; an operator's or a complaint's suppression stays.
UPDATE suppressions
   SET lifted_at = $2
 WHERE channel = 'sms' AND address = $1 AND reason = 'sms_stop' AND lifted_at IS NULL
RETURNING id;
