-- name: list_message_templates
SELECT outcome, locale, subject, greeting, body, sms, updated_at, updated_by
  FROM recovery_message_templates
 ORDER BY locale <> 'en', locale,
          array_position(ARRAY['recovered', 'not_recovered', 'unreachable', 'no_action_needed'], outcome);

-- name: message_template
-- The outcome's template in the first of the locales $2 (most specific first) that has one.
SELECT outcome, locale, subject, greeting, body, sms, updated_at, updated_by
  FROM recovery_message_templates
 WHERE outcome = $1 AND locale = ANY($2::text[])
 ORDER BY array_position($2::text[], locale)
 LIMIT 1;

-- name: upsert_message_template
INSERT INTO recovery_message_templates AS m (outcome, locale, subject, greeting, body, sms, updated_by)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (outcome, locale) DO UPDATE
   SET subject = excluded.subject, greeting = excluded.greeting, body = excluded.body, sms = excluded.sms,
       updated_by = excluded.updated_by, updated_at = now()
RETURNING m.outcome, m.locale, m.subject, m.greeting, m.body, m.sms, m.updated_at, m.updated_by,
          (xmax = 0) AS created;

-- name: delete_message_template
DELETE FROM recovery_message_templates WHERE outcome = $1 AND locale = $2 RETURNING outcome;

-- name: task_customer
SELECT customer_id FROM recovery_tasks WHERE id = $1;

-- name: message_customer
-- Read, not locked: the console takes the task's lease before it resolves, so a customer lock
-- here would come after the task's and could deadlock with an erasure (customer, then tasks).
-- An erasure committing meanwhile is caught all the same: it clears a message written before
-- it, and the sender checks again under the customer's lock before anything goes out.
SELECT id, email, phone, name, locale, time_zone, erased_at FROM customers WHERE id = $1;

-- name: agent_name
-- How a closing message signs: the console user's name, when the agent is one.
SELECT name FROM users WHERE lower(email) = lower($1) LIMIT 1;

-- name: set_follow_up
-- The closing message a resolution asked for, with its history row, on the task just resolved.
WITH changed AS (
    UPDATE recovery_tasks
       SET follow_up_channel = $2, follow_up_status = $3, follow_up_reason = $4, follow_up_source = $5,
           follow_up_locale = $6, follow_up_subject = $7, follow_up_text = $8,
           follow_up_requested_at = now(), follow_up_sent_at = NULL, updated_at = now()
     WHERE id = $1
    RETURNING *
),
history AS (
    INSERT INTO recovery_task_history (task_id, actor, action, details)
    SELECT id, $9, 'follow_up',
           $10::jsonb || jsonb_build_object('channel', follow_up_channel, 'status', follow_up_status,
                                            'reason', follow_up_reason, 'source', follow_up_source)
      FROM changed
)
SELECT c.*, false AS overdue FROM changed c;

-- name: lock_customer_of_task
-- The customer first (customers/locks.py), then the task: an erasure running now is waited for.
SELECT c.id, c.erased_at
  FROM recovery_tasks t
  JOIN customers c ON c.id = t.customer_id
 WHERE t.id = $1
   FOR KEY SHARE OF c;

-- name: lock_follow_up_for_send
-- Held while the send is decided, so a second sender of the same message waits for us.
SELECT t.id, t.customer_id, t.follow_up_channel AS channel, t.follow_up_status AS status,
       t.follow_up_subject AS subject, t.follow_up_text AS text, t.follow_up_locale AS locale,
       t.follow_up_requested_at AS requested_at,
       c.email, c.phone, c.erased_at IS NOT NULL AS erased
  FROM recovery_tasks t
  JOIN customers c ON c.id = t.customer_id
 WHERE t.id = $1
   FOR UPDATE OF t;

-- name: settle_follow_up
-- The message went ($2 'sent'), could not go ($2 'failed') or may no longer go ($2 'not_sent'),
-- once, and only the message this job is about ($3: when it was asked for); the history says so.
WITH changed AS (
    UPDATE recovery_tasks
       SET follow_up_status = $2, follow_up_reason = $4,
           follow_up_sent_at = CASE WHEN $2 = 'sent' THEN now() END,
           follow_up_text = CASE WHEN $5 THEN NULL ELSE follow_up_text END,
           follow_up_subject = CASE WHEN $5 THEN NULL ELSE follow_up_subject END,
           updated_at = now()
     WHERE id = $1 AND follow_up_status = 'queued' AND follow_up_requested_at = $3
    RETURNING *
)
INSERT INTO recovery_task_history (task_id, actor, action, details)
SELECT id, 'system', 'follow_up_' || follow_up_status,
       jsonb_build_object('channel', follow_up_channel, 'reason', follow_up_reason)
  FROM changed
RETURNING task_id;

-- name: follow_up_waits
-- The send waits (for an operator to fix our settings, or for the far side to come back):
-- still 'queued', with the reason shown, while the message is not too late to mean anything
-- ($4: how long after it was asked for); NULL otherwise.
UPDATE recovery_tasks
   SET follow_up_reason = $3, updated_at = now()
 WHERE id = $1 AND follow_up_status = 'queued' AND follow_up_requested_at = $2
   AND follow_up_requested_at + $4::interval > now() + $5::interval
RETURNING id;

-- name: pulse_plan
-- What a pulse needs: the task as it is now, the survey of the first answer among its evidence
-- (the one that opened it, or the first that joined a churn-risk task) and whether it had one.
SELECT t.id, t.customer_id, t.status, t.outcome, t.control, t.resolved_at, t.pulse_due_at,
       s.key AS survey, s.active AS survey_active, a.channel AS answer_channel,
       EXISTS (SELECT 1 FROM invitations i WHERE i.recovery_task_id = t.id AND i.purpose = 'pulse')
           AS pulsed
  FROM recovery_tasks t
  LEFT JOIN LATERAL (
        SELECT r.survey_id, r.channel
          FROM recovery_evidence e
          JOIN responses r ON r.id = e.response_id
         WHERE e.task_id = t.id
         ORDER BY e.id
         LIMIT 1
  ) a ON true
  LEFT JOIN surveys s ON s.id = a.survey_id
 WHERE t.id = $1;

-- name: task_pulse
-- A task's pulse survey and, once answered, its score.
SELECT i.id AS invitation_id, i.status, i.channel, i.reason, i.sent_at,
       s.key AS survey, s.kind, r.score, r.answered_at
  FROM invitations i
  JOIN surveys s ON s.id = i.survey_id
  LEFT JOIN responses r ON r.invitation_id = i.id
 WHERE i.recovery_task_id = $1 AND i.purpose = 'pulse';
