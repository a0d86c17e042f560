-- name: customer_phones
-- Every number the customer had, read before any lock: the SMS locks come first (below).
SELECT array_agg(DISTINCT phone) FILTER (WHERE phone IS NOT NULL)
  FROM (SELECT phone FROM customers WHERE id = $1
        UNION ALL
        SELECT value FROM customer_contact_history WHERE customer_id = $1 AND kind = 'phone') p;

-- name: lock_phones
-- The key surveys/sms_inbound.sql's lock_phone takes: a reply from one of these numbers is
-- either processed before the erasure (and erased with the rest) or after it (and finds no
-- conversation). Sorted, so two erasures sharing a number take them in the same order.
SELECT count(pg_advisory_xact_lock(hashtextextended('sms_inbound:' || phone, 0)))
  FROM (SELECT DISTINCT unnest($1::text[]) AS phone ORDER BY 1) p;

-- name: customer_state
-- NULL: no such customer.
SELECT erased_at IS NOT NULL AS erased FROM customers WHERE id = $1;

-- name: lock_customer
-- The row lock makes a concurrent upsert or answer wait for the erasure, then see it.
SELECT id, erased_at FROM customers WHERE id = $1 FOR UPDATE;

-- name: identifiers
-- Every email (lower case), phone and name the customer ever had: the current ones and
-- those kept by the contact history trigger. A number that belongs to another live customer
-- now is theirs after the day this customer gave it up: `phones_until` says until when each
-- number was this customer's (infinity: still is, or nobody else has it).
WITH known AS (
    SELECT 'email' AS kind, lower(email) AS value, 'infinity'::timestamptz AS valid_to
      FROM customers WHERE id = $1 AND email IS NOT NULL
    UNION ALL
    SELECT 'phone', phone, 'infinity' FROM customers WHERE id = $1 AND phone IS NOT NULL
    UNION ALL
    SELECT 'name', name, 'infinity' FROM customers WHERE id = $1 AND name IS NOT NULL
    UNION ALL
    SELECT kind, CASE kind WHEN 'email' THEN lower(value) ELSE value END, valid_to
      FROM customer_contact_history WHERE customer_id = $1
),
phones AS (
    SELECT k.value AS phone,
           CASE WHEN EXISTS (SELECT 1 FROM customers o
                              WHERE o.phone = k.value AND o.id <> $1 AND o.erased_at IS NULL)
                THEN max(k.valid_to) ELSE 'infinity' END AS until
      FROM known k
     WHERE k.kind = 'phone'
     GROUP BY k.value
)
SELECT coalesce((SELECT array_agg(DISTINCT value) FROM known WHERE kind = 'email'), '{}') AS emails,
       coalesce((SELECT array_agg(DISTINCT value) FROM known WHERE kind = 'name'), '{}') AS names,
       coalesce((SELECT array_agg(phone ORDER BY phone) FROM phones), '{}') AS phones,
       coalesce((SELECT array_agg(until ORDER BY phone) FROM phones), '{}') AS phones_until,
       coalesce((SELECT array_agg(phone ORDER BY phone) FROM phones WHERE until = 'infinity'), '{}')
           AS phones_still_theirs;

-- name: erase_customer
-- Keep the row (anonymous aggregates count it) but nothing that identifies the person. No
-- external id: the CRM's id is free for a new customer, and nothing can address this row by it.
UPDATE customers
   SET email = NULL, phone = NULL, name = NULL, attributes = '{}'::jsonb,
       external_id = NULL, erased_at = $2, updated_at = $2
 WHERE id = $1;

-- name: erase_contact_history
-- Earlier contact details, and earlier versions of the CRM's attributes (which may quote the
-- person as much as the current ones do).
WITH attributes AS (
    DELETE FROM customer_attribute_history WHERE customer_id = $1
)
DELETE FROM customer_contact_history WHERE customer_id = $1;

-- name: erase_answers
-- Scores stay for the statistics; free text goes.
UPDATE responses SET comment = NULL, updated_at = $2 WHERE customer_id = $1 AND comment IS NOT NULL;

-- name: erase_invitations
-- Spend every token: a survey link in an old email now opens the "no longer available" page.
-- A failed send's reason may quote the provider's reply with the address: only the status stays.
-- Reminders not sent yet never will be (their outbox jobs go with the customer's other work);
-- a failed one's reason may quote the provider too.
WITH reminders AS (
    UPDATE invitation_reminders
       SET status = CASE WHEN status IN ('scheduled', 'sending') THEN 'skipped' ELSE status END,
           reason = CASE WHEN status IN ('scheduled', 'sending') THEN 'skipped: customer erased' ELSE status END,
           updated_at = $2
     WHERE invitation_id IN (SELECT id FROM invitations WHERE customer_id = $1)
)
UPDATE invitations
   SET token_hash = NULL,
       status = CASE WHEN status IN ('scheduled', 'queued') THEN 'expired' ELSE status END,
       reason = CASE WHEN status IN ('scheduled', 'queued') THEN 'expired: customer erased' ELSE status END,
       updated_at = $2
 WHERE customer_id = $1;

-- name: erase_invitation_history
-- A failed send's reason may quote the provider's reply, address included: each step keeps what
-- happened and when, not why.
UPDATE invitation_history h
   SET reason = h.event
  FROM invitations i
 WHERE i.customer_id = $1 AND h.invitation_id = i.id AND h.reason IS DISTINCT FROM h.event;

-- name: erase_interactions
UPDATE interactions SET attributes = '{}'::jsonb, external_id = NULL WHERE customer_id = $1;

-- name: erase_customer_events
UPDATE customer_events SET attributes = '{}'::jsonb, external_id = NULL WHERE customer_id = $1;

-- name: erase_sms
-- $2/$3: the customer's numbers and until when each was theirs (identifiers). Conversations
-- about the customer's invitations go, and every message from their numbers in their time.
WITH numbers AS (
    SELECT * FROM unnest($2::text[], $3::timestamptz[]) AS n (phone, until)
), conversations AS (
    DELETE FROM sms_conversations s
     WHERE s.invitation_id IN (SELECT id FROM invitations WHERE customer_id = $1)
        OR s.phone IN (SELECT phone FROM numbers WHERE until = 'infinity')
)
DELETE FROM inbound_messages m
 USING numbers n
 WHERE m.from_phone = n.phone AND m.received_at <= n.until;

-- name: drop_doubled_suppressions
-- An active opt-out whose hash is already kept (the address was erased before) would clash
-- with it once hashed: the hashed one already says everything. $2 emails, $3 phones.
DELETE FROM suppressions s
 WHERE s.lifted_at IS NULL
   AND (s.customer_id = $1 OR (s.channel = 'email' AND s.address = ANY($2::text[]))
        OR (s.channel = 'sms' AND s.address = ANY($3::text[])))
   AND s.address NOT LIKE 'sha256:%'
   AND EXISTS (SELECT 1 FROM suppressions o
                WHERE o.channel = s.channel AND o.lifted_at IS NULL
                  AND o.address = 'sha256:' || encode(sha256(convert_to(s.address, 'UTF8')), 'hex'));

-- name: hash_suppressions
-- Opt-outs outlive the customer (the address must stay opted out if the CRM sends it again),
-- so the address is kept only as a hash, which the opt-out checks also compare.
UPDATE suppressions
   SET address = 'sha256:' || encode(sha256(convert_to(address, 'UTF8')), 'hex'), customer_id = NULL
 WHERE (customer_id = $1 OR (channel = 'email' AND address = ANY($2::text[]))
        OR (channel = 'sms' AND address = ANY($3::text[])))
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

-- name: erase_follow_ups
-- The closing messages' words quote and name the customer: they go, and one still waiting
-- will not be sent (its outbox job went with the rest of the customer's background work). Why
-- one was not sent may quote the provider's reply, address included: only that it was not stays.
UPDATE recovery_tasks
   SET follow_up_subject = NULL, follow_up_text = NULL,
       follow_up_status = CASE WHEN follow_up_status = 'queued' THEN 'not_sent' ELSE follow_up_status END,
       follow_up_reason = CASE WHEN follow_up_status = 'queued' THEN 'customer erased'
                               WHEN follow_up_reason IS NOT NULL THEN 'details removed with the customer'
                          END,
       pulse_due_at = NULL, updated_at = $2
 WHERE customer_id = $1
   AND (follow_up_text IS NOT NULL OR follow_up_subject IS NOT NULL OR follow_up_status = 'queued'
        OR follow_up_reason IS NOT NULL OR pulse_due_at IS NOT NULL);

-- name: erase_background_work
-- Queued work and sent webhooks carry answers and addresses: drop every copy. $2 emails (lower
-- case), $3 phones (only those still the customer's: a number someone else has now keys
-- their own SMS jobs); strpos matches them as plain text.
WITH jobs AS (
    DELETE FROM outbox
     WHERE ordering_key = $1::text OR ordering_key = ANY($3::text[])
        OR EXISTS (SELECT 1 FROM unnest($2::text[]) e WHERE strpos(lower(payload::text), e) > 0)
        OR EXISTS (SELECT 1 FROM unnest($3::text[]) p WHERE strpos(payload::text, p) > 0)
)
DELETE FROM webhook_deliveries
 WHERE ordering_key = $1::text
    OR strpos(payload::text, $1::text) > 0
    OR EXISTS (SELECT 1 FROM unnest($2::text[]) e WHERE strpos(lower(payload::text), e) > 0)
    OR EXISTS (SELECT 1 FROM unnest($3::text[]) p WHERE strpos(payload::text, p) > 0);

-- name: erase_stored_replies
-- Idempotency keys keep whole responses to replay them; any that mention the customer go.
DELETE FROM idempotency_keys k
 WHERE response_body IS NOT NULL
   AND (strpos(convert_from(k.response_body, 'UTF8'), $1::text) > 0
        OR EXISTS (SELECT 1 FROM unnest($2::text[]) e
                    WHERE strpos(lower(convert_from(k.response_body, 'UTF8')), e) > 0)
        OR EXISTS (SELECT 1 FROM unnest($3::text[]) p
                    WHERE strpos(convert_from(k.response_body, 'UTF8'), p) > 0));

-- name: erase_audit_details
-- The audit trail keeps who did what and when; details that quote the customer go.
UPDATE audit_log SET details = '{}'::jsonb
 WHERE EXISTS (SELECT 1 FROM unnest($1::text[]) e WHERE strpos(lower(details::text), e) > 0)
    OR EXISTS (SELECT 1 FROM unnest($2::text[]) p WHERE strpos(details::text, p) > 0);

-- name: export_customer
-- Everything held about one customer, as one JSON document built where the data is.
-- Read in one repeatable-read transaction with `identifiers`, so both see the same data.
SELECT jsonb_build_object(
    'customer', (SELECT to_jsonb(c) FROM customers c WHERE c.id = $1),
    'earlier_contact_details', coalesce((SELECT jsonb_agg(to_jsonb(h) - 'customer_id' ORDER BY h.valid_to, h.kind)
                                           FROM customer_contact_history h WHERE h.customer_id = $1), '[]'::jsonb),
    'earlier_attributes', coalesce((SELECT jsonb_agg(to_jsonb(h) - 'customer_id' ORDER BY h.valid_from)
                                      FROM customer_attribute_history h WHERE h.customer_id = $1), '[]'::jsonb),
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
    -- whether each at-risk score put the customer in the recovery queue (docs/scheduled-scoring.md)
    'proactive_intake', coalesce((SELECT jsonb_agg(to_jsonb(i) ORDER BY i.created_at, i.score_id)
                                    FROM proactive_intake i WHERE i.customer_id = $1), '[]'::jsonb),
    'recovery_tasks', coalesce((
        SELECT jsonb_agg(to_jsonb(t) - 'lease_token'
                         || jsonb_build_object(
                              'evidence', coalesce((SELECT jsonb_agg(to_jsonb(e) ORDER BY e.id)
                                                      FROM recovery_evidence e WHERE e.task_id = t.id), '[]'::jsonb),
                              'history', coalesce((SELECT jsonb_agg(to_jsonb(h) ORDER BY h.id)
                                                     FROM recovery_task_history h WHERE h.task_id = t.id), '[]'::jsonb))
                         ORDER BY t.created_at)
          FROM recovery_tasks t WHERE t.customer_id = $1), '[]'::jsonb),
    -- $2 emails, $3 phones and $4 until when each was the customer's (identifiers)
    'suppressions', coalesce((
        SELECT jsonb_agg(to_jsonb(s) ORDER BY s.created_at)
          FROM suppressions s
         WHERE s.customer_id = $1 OR (s.channel = 'email' AND s.address = ANY($2::text[]))
               OR (s.channel = 'sms' AND s.address = ANY($3::text[]))), '[]'::jsonb),
    'sms_messages', coalesce((
        SELECT jsonb_agg(to_jsonb(m) ORDER BY m.received_at)
          FROM inbound_messages m
          JOIN unnest($3::text[], $4::timestamptz[]) AS n (phone, until)
            ON m.from_phone = n.phone AND m.received_at <= n.until), '[]'::jsonb)
) AS document;
