-- name: reminder_plan
-- What planning a reminder needs: the invitation's channel, status and link expiry, the
-- customer's time zone (SMS quiet hours) and its touchpoint's rule (NULLs: the service default).
-- None for an erased customer: nobody is left to remind.
SELECT i.customer_id, i.channel, i.status, i.expires_at, c.time_zone,
       t.reminder_count, t.reminder_delay
  FROM invitations i
  JOIN customers c ON c.id = i.customer_id
  LEFT JOIN interactions it ON it.id = i.interaction_id
  LEFT JOIN touchpoints t ON t.key = it.touchpoint
 WHERE i.id = $1 AND c.erased_at IS NULL;

-- name: schedule_reminder
-- Reminder $2 of invitation $1, due at $3 by channel $4; planning the same one again (a
-- redelivered job) is a no-op, as is its outbox job by the same natural key.
INSERT INTO invitation_reminders (invitation_id, number, channel, due_at)
VALUES ($1, $2, $4, $3)
ON CONFLICT (invitation_id, number) DO NOTHING
RETURNING number;

-- name: lock_invitation_for_reminder
-- Held while the reminder is decided, so an answer, erasure or second sender waits for us.
-- The customer is locked first (sending.sql lock_customer_of_invitation); FOR UPDATE OF i
-- locks only the invitation.
SELECT i.id, i.customer_id, i.channel, i.status, i.locale, i.expires_at, i.sent_at, i.purpose,
       c.email, c.phone, c.name, c.time_zone, c.erased_at IS NOT NULL AS erased,
       s.key AS survey, s.kind, v.texts, s.retired_at IS NOT NULL AS survey_retired,
       coalesce(it.touchpoint, 'experience') AS touchpoint,
       i.survey_version, t.display_names AS touchpoint_names, t.name AS touchpoint_name, it.agent,
       coalesce(it.occurred_at, i.created_at) AS occurred_at,
       t.reminder_count, t.reminder_delay
  FROM invitations i
  JOIN customers c ON c.id = i.customer_id
  JOIN surveys s ON s.id = i.survey_id
  JOIN survey_versions v ON v.survey_id = i.survey_id AND v.version = i.survey_version
  LEFT JOIN interactions it ON it.id = i.interaction_id
  LEFT JOIN touchpoints t ON t.key = it.touchpoint
 WHERE i.id = $1
   FOR UPDATE OF i;

-- name: lock_reminder
SELECT status, channel, due_at
  FROM invitation_reminders
 WHERE invitation_id = $1 AND number = $2
   FOR UPDATE;

-- name: set_reminder
-- $3 the new status; $4 the channel, $5 the reason and $6 the due time when they change.
UPDATE invitation_reminders
   SET status = $3, channel = coalesce($4, channel), reason = coalesce($5, reason),
       due_at = coalesce($6, due_at), updated_at = now()
 WHERE invitation_id = $1 AND number = $2;

-- name: fail_reminder
-- Only one still in hand: a reminder another worker recorded as sent stays sent.
UPDATE invitation_reminders
   SET status = 'failed', reason = $3, updated_at = now()
 WHERE invitation_id = $1 AND number = $2 AND status IN ('scheduled', 'sending');

-- name: mark_reminder_sent
-- The channel took the reminder: it is recorded, and counted on the invitation where the CRM
-- reads it, whatever the invitation's status now (an answer that came in while the reminder was
-- on its way stays the answer). No row back: another worker recorded it first.
-- The reason stays the one it was sent with ('sent by sms (instead of email: ...)'), and the
-- invitation's history gets a 'reminded' step with it.
WITH reminder AS (
    UPDATE invitation_reminders
       SET status = 'sent', sent_at = now(), updated_at = now()
     WHERE invitation_id = $1 AND number = $2 AND status = 'sending'
    RETURNING invitation_id, number, channel, sent_at, reason
),
history AS (
    INSERT INTO invitation_history (invitation_id, at, event, reason, channel)
    SELECT invitation_id, sent_at, 'reminded', 'reminder ' || number || ', ' || reason, channel FROM reminder
)
UPDATE invitations i
   SET reminders_sent = greatest(i.reminders_sent, r.number), last_reminded_at = r.sent_at
  FROM reminder r
 WHERE i.id = r.invitation_id
RETURNING i.status, r.sent_at, r.reason;
