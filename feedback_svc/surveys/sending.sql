-- name: lock_customer_of_invitation
-- The customer first, as everywhere (customers/locks.py): an erasure running now makes the
-- sender wait, then see the customer erased, so no survey goes to someone who just left.
SELECT c.id, c.erased_at
  FROM invitations i
  JOIN customers c ON c.id = i.customer_id
 WHERE i.id = $1
   FOR KEY SHARE OF c;

-- name: lock_invitation_for_send
-- Held while the send is decided, so an answer, erasure or second sender waits for us.
-- FOR UPDATE OF i: only the invitation is locked, not the customer or the survey. The texts are
-- those of the survey version the invitation was made with.
SELECT i.id, i.customer_id, i.channel, i.status, i.locale, i.expires_at, i.purpose,
       c.email, c.phone, c.name, c.erased_at IS NOT NULL AS erased,
       c.time_zone, s.key AS survey, s.kind, v.texts, s.retired_at IS NOT NULL AS survey_retired,
       coalesce(it.touchpoint, 'experience') AS touchpoint,
       i.survey_version, t.display_names AS touchpoint_names, t.name AS touchpoint_name, it.agent,
       coalesce(it.occurred_at, i.created_at) AS occurred_at
  FROM invitations i
  JOIN customers c ON c.id = i.customer_id
  JOIN surveys s ON s.id = i.survey_id
  JOIN survey_versions v ON v.survey_id = i.survey_id AND v.version = i.survey_version
  LEFT JOIN interactions it ON it.id = i.interaction_id
  LEFT JOIN touchpoints t ON t.key = it.touchpoint
 WHERE i.id = $1
   FOR UPDATE OF i;

-- name: set_invitation_status
UPDATE invitations SET status = $2, reason = coalesce($3, reason), updated_at = now() WHERE id = $1;

-- name: mark_invitation_sent
-- Only from 'queued': an invitation answered or erased meanwhile keeps that status. The
-- reason says how it went, not why an earlier try had to wait ("queued: retrying: ...").
-- No row back: it was not 'queued' (answered meanwhile), so it needs no reminder either.
UPDATE invitations
   SET status = 'sent', sent_at = now(), reason = coalesce('sent by ' || channel, 'sent'), updated_at = now()
 WHERE id = $1 AND status = 'queued'
RETURNING sent_at;

-- name: mark_invitation_failed
UPDATE invitations
   SET status = 'failed', reason = $2, updated_at = now()
 WHERE id = $1 AND status = 'queued';

-- name: start_sms_conversation
-- A reply from this phone now answers this invitation (the latest one texted wins).
INSERT INTO sms_conversations (phone, invitation_id, state, reprompted, updated_at)
VALUES ($1, $2, 'awaiting_score', false, now())
ON CONFLICT (phone) DO UPDATE
   SET invitation_id = excluded.invitation_id,
       state = 'awaiting_score',
       reprompted = false,
       updated_at = now();

-- name: wait_for_next_try
-- The send waits (for an operator to fix our settings, or for the far side to come back):
-- still 'queued', with the reason shown, as long as the link outlives the next try ($3);
-- NULL otherwise (or when answered meanwhile).
UPDATE invitations
   SET reason = $2, updated_at = now()
 WHERE id = $1 AND status = 'queued' AND expires_at > now() + $3::interval
RETURNING id;
