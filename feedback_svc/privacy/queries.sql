-- name: lock_customer
-- The row lock makes a concurrent upsert or answer wait for the erasure, then see it.
SELECT id, email, phone, name, external_id, erased_at FROM customers WHERE id = $1 FOR UPDATE;

-- name: erase_customer
-- Keep the row (anonymous aggregates count it) but nothing that identifies the person.
-- A new external id frees the CRM's id: if the CRM sends it again, that is a new customer.
UPDATE customers
   SET email = NULL, phone = NULL, name = NULL, attributes = '{}'::jsonb,
       external_id = 'erased:' || id::text, erased_at = $2, updated_at = $2
 WHERE id = $1;

-- name: erase_answers
-- Scores stay for the statistics; free text goes.
UPDATE responses SET comment = NULL, updated_at = $2 WHERE customer_id = $1 AND comment IS NOT NULL;

-- name: erase_invitations
-- Spend every token: a survey link in an old email now opens the "no longer available" page.
UPDATE invitations
   SET token_hash = NULL,
       status = CASE WHEN status IN ('scheduled', 'queued') THEN 'expired' ELSE status END,
       reason = CASE WHEN status IN ('scheduled', 'queued') THEN 'expired: customer erased' ELSE reason END,
       updated_at = $2
 WHERE customer_id = $1;

-- name: erase_interactions
UPDATE interactions SET attributes = '{}'::jsonb, external_id = NULL WHERE customer_id = $1;

-- name: erase_customer_events
UPDATE customer_events SET attributes = '{}'::jsonb, external_id = NULL WHERE customer_id = $1;

-- name: erase_sms
-- $2 is the erased phone (may be NULL); conversations and replies are the customer's words.
WITH conversations AS (
    DELETE FROM sms_conversations
     WHERE phone = $2 OR invitation_id IN (SELECT id FROM invitations WHERE customer_id = $1)
)
DELETE FROM inbound_messages WHERE from_phone = $2;

-- name: drop_doubled_suppressions
-- An active opt-out whose hash is already kept (the address was erased before) would clash
-- with it once hashed: the hashed one already says everything.
DELETE FROM suppressions s
 WHERE s.lifted_at IS NULL
   AND (s.customer_id = $1 OR (s.channel = 'email' AND s.address = lower($2)) OR (s.channel = 'sms' AND s.address = $3))
   AND s.address NOT LIKE 'sha256:%'
   AND EXISTS (SELECT 1 FROM suppressions o
                WHERE o.channel = s.channel AND o.lifted_at IS NULL
                  AND o.address = 'sha256:' || encode(sha256(convert_to(s.address, 'UTF8')), 'hex'));

-- name: hash_suppressions
-- Opt-outs outlive the customer (the address must stay opted out if the CRM sends it again),
-- so the address is kept only as a hash, which the opt-out checks also compare.
UPDATE suppressions
   SET address = 'sha256:' || encode(sha256(convert_to(address, 'UTF8')), 'hex'), customer_id = NULL
 WHERE (customer_id = $1 OR (channel = 'email' AND address = lower($2)) OR (channel = 'sms' AND address = $3))
   AND address NOT LIKE 'sha256:%';

-- name: erase_recovery
-- Outcomes and root causes stay for recovery statistics; notes and evidence details go.
-- An open task is closed: nobody should call a customer who asked to be forgotten.
WITH history AS (
    UPDATE recovery_task_history h
       SET details = CASE WHEN h.details ? 'outcome'
                          THEN jsonb_build_object('outcome', h.details->'outcome') ELSE '{}'::jsonb END
      FROM recovery_tasks t
     WHERE h.task_id = t.id AND t.customer_id = $1 AND h.details <> '{}'::jsonb
), evidence AS (
    UPDATE recovery_evidence e SET details = '{}'::jsonb
      FROM recovery_tasks t
     WHERE e.task_id = t.id AND t.customer_id = $1
), closed AS (
    UPDATE recovery_tasks
       SET status = 'resolved', outcome = 'no_action_needed', root_cause = 'customer_erased',
           resolved_at = $2, lease_token = NULL, lease_expires_at = NULL, lease_holder = NULL, updated_at = $2
     WHERE customer_id = $1 AND status = 'open'
     RETURNING id
)
INSERT INTO recovery_task_history (task_id, actor, action, details)
SELECT id, 'system', 'resolved', '{"outcome": "no_action_needed", "root_cause": "customer_erased"}'::jsonb
  FROM closed;

-- name: erase_background_work
-- Queued work and sent webhooks carry answers and addresses: drop every copy. $2/$3 are the
-- erased email and phone (NULL when unknown); strpos matches them as plain text.
WITH jobs AS (
    DELETE FROM outbox
     WHERE ordering_key IN ($1::text, $3)
        OR ($2::text IS NOT NULL AND strpos(lower(payload::text), lower($2)) > 0)
        OR ($3::text IS NOT NULL AND strpos(payload::text, $3) > 0)
)
DELETE FROM webhook_deliveries
 WHERE ordering_key = $1::text
    OR strpos(payload::text, $1::text) > 0
    OR ($2::text IS NOT NULL AND strpos(lower(payload::text), lower($2)) > 0)
    OR ($3::text IS NOT NULL AND strpos(payload::text, $3) > 0);

-- name: erase_stored_replies
-- Idempotency keys keep whole responses to replay them; any that mention the customer go.
DELETE FROM idempotency_keys
 WHERE strpos(convert_from(coalesce(response_body, ''::bytea), 'UTF8'), $1::text) > 0
    OR ($2::text IS NOT NULL AND strpos(lower(convert_from(coalesce(response_body, ''::bytea), 'UTF8')), lower($2)) > 0)
    OR ($3::text IS NOT NULL AND strpos(convert_from(coalesce(response_body, ''::bytea), 'UTF8'), $3) > 0);

-- name: erase_audit_details
-- The audit trail keeps who did what and when; details that quote the customer go.
UPDATE audit_log SET details = '{}'::jsonb
 WHERE ($1::text IS NOT NULL AND strpos(lower(details::text), lower($1)) > 0)
    OR ($2::text IS NOT NULL AND strpos(details::text, $2) > 0);

-- name: export_customer
-- Everything held about one customer, as one JSON document built where the data is.
SELECT jsonb_build_object(
    'customer', (SELECT to_jsonb(c) FROM customers c WHERE c.id = $1),
    'interactions', coalesce((SELECT jsonb_agg(to_jsonb(i) ORDER BY i.occurred_at)
                                FROM interactions i WHERE i.customer_id = $1), '[]'::jsonb),
    'invitations', coalesce((SELECT jsonb_agg(to_jsonb(v) - 'token_hash' ORDER BY v.created_at)
                               FROM invitations v WHERE v.customer_id = $1), '[]'::jsonb),
    'responses', coalesce((SELECT jsonb_agg(to_jsonb(r) ORDER BY r.answered_at)
                             FROM responses r WHERE r.customer_id = $1), '[]'::jsonb),
    'events', coalesce((SELECT jsonb_agg(to_jsonb(e) ORDER BY e.occurred_at)
                          FROM customer_events e WHERE e.customer_id = $1), '[]'::jsonb),
    'scores', coalesce((SELECT jsonb_agg(to_jsonb(s) ORDER BY s.scored_at)
                          FROM scores s WHERE s.customer_id = $1), '[]'::jsonb),
    'recovery_tasks', coalesce((
        SELECT jsonb_agg(to_jsonb(t) - 'lease_token'
                         || jsonb_build_object(
                              'evidence', coalesce((SELECT jsonb_agg(to_jsonb(e) ORDER BY e.id)
                                                      FROM recovery_evidence e WHERE e.task_id = t.id), '[]'::jsonb),
                              'history', coalesce((SELECT jsonb_agg(to_jsonb(h) ORDER BY h.id)
                                                     FROM recovery_task_history h WHERE h.task_id = t.id), '[]'::jsonb))
                         ORDER BY t.created_at)
          FROM recovery_tasks t WHERE t.customer_id = $1), '[]'::jsonb),
    'suppressions', coalesce((
        SELECT jsonb_agg(to_jsonb(s) ORDER BY s.created_at)
          FROM suppressions s, customers c
         WHERE c.id = $1
           AND (s.customer_id = $1 OR (s.channel = 'email' AND s.address = lower(c.email))
                OR (s.channel = 'sms' AND s.address = c.phone))), '[]'::jsonb),
    'sms_messages', coalesce((
        SELECT jsonb_agg(to_jsonb(m) ORDER BY m.received_at)
          FROM inbound_messages m, customers c
         WHERE c.id = $1 AND m.from_phone = c.phone), '[]'::jsonb)
) AS document;
