-- name: lock_customer
-- Invitations for one customer are decided one at a time, so two interactions
-- arriving together cannot both slip under the cooldown.
SELECT id, email, phone, time_zone, locale, erased_at IS NOT NULL AS erased
  FROM customers
 WHERE id = $1
   FOR UPDATE;

-- name: customer_id_by_external_id
SELECT id FROM customers WHERE external_id = $1;

-- name: last_invited_at
-- Cooldown across all surveys: the last invitation that actually went (or will go) out.
SELECT max(created_at)
  FROM invitations
 WHERE customer_id = $1
   AND status IN ('scheduled', 'queued', 'sent', 'answered');

-- name: opted_out_channels
SELECT channel
  FROM suppressions
 WHERE lifted_at IS NULL
   AND ((channel = 'email' AND address = lower($1)) OR (channel = 'sms' AND address = $2));

-- name: get_survey
SELECT id, key, kind, texts, cooldown, answer_window, token_ttl, active
  FROM surveys
 WHERE key = $1;

-- name: list_surveys
SELECT id, key, kind, texts, cooldown, answer_window, token_ttl, active
  FROM surveys
 ORDER BY key;

-- name: get_touchpoint
-- The rule for a touchpoint: which survey, after what delay, and whether it is critical.
SELECT t.key, t.critical, t.invite_delay, s.key AS survey_key
  FROM touchpoints t
  LEFT JOIN surveys s ON s.id = t.survey_id AND s.active
 WHERE t.key = $1;

-- name: insert_interaction
-- A resent interaction (same external id) returns the stored one instead of a copy.
WITH inserted AS (
    INSERT INTO interactions (customer_id, external_id, touchpoint, critical, occurred_at,
                              channel_preference, agent, attributes)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
    ON CONFLICT (external_id) DO NOTHING
    RETURNING id, customer_id, external_id, touchpoint, critical, occurred_at, channel_preference,
              agent, created_at, true AS inserted
)
SELECT * FROM inserted
UNION ALL
SELECT id, customer_id, external_id, touchpoint, critical, occurred_at, channel_preference, agent,
       created_at, false
  FROM interactions
 WHERE external_id = $2 AND NOT EXISTS (SELECT 1 FROM inserted);

-- name: invitation_for_interaction
SELECT i.id, i.customer_id, s.key AS survey, s.kind, i.channel, i.status, i.reason, i.send_at,
       i.sent_at, i.expires_at, i.created_at
  FROM invitations i JOIN surveys s ON s.id = i.survey_id
 WHERE i.interaction_id = $1
 ORDER BY i.created_at
 LIMIT 1;

-- name: insert_invitation
INSERT INTO invitations (id, survey_id, customer_id, interaction_id, channel, token_hash, status, reason,
                         locale, send_at, sent_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
RETURNING id, customer_id, channel, status, reason, send_at, sent_at, expires_at, created_at;

-- name: get_interaction
SELECT id, customer_id, touchpoint FROM interactions WHERE id = $1;

-- name: invitation_by_token
-- The survey page and one-click unsubscribe find the invitation by the hash of its token.
SELECT i.id, i.customer_id, i.interaction_id, i.channel, i.status, i.locale, i.expires_at,
       s.id AS survey_id, s.key AS survey, s.kind, s.texts, s.answer_window,
       c.email, c.phone, c.erased_at IS NOT NULL AS erased,
       it.touchpoint
  FROM invitations i
  JOIN surveys s ON s.id = i.survey_id
  JOIN customers c ON c.id = i.customer_id
  LEFT JOIN interactions it ON it.id = i.interaction_id
 WHERE i.token_hash = $1;

-- name: invitation_by_id
SELECT i.id, i.customer_id, i.interaction_id, i.channel, i.status, i.locale, i.expires_at,
       s.id AS survey_id, s.key AS survey, s.kind, s.texts, s.answer_window,
       c.email, c.phone, c.erased_at IS NOT NULL AS erased,
       it.touchpoint
  FROM invitations i
  JOIN surveys s ON s.id = i.survey_id
  JOIN customers c ON c.id = i.customer_id
  LEFT JOIN interactions it ON it.id = i.interaction_id
 WHERE i.id = $1;

-- name: upsert_invited_response
-- One answer per invitation; a second submission edits it while the window is open.
-- No row back means the window has closed.
INSERT INTO responses AS r (invitation_id, customer_id, survey_id, interaction_id, kind, score, comment,
                            contact_requested, channel, touchpoint, answered_at, editable_until)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::timestamptz, $11::timestamptz + $12::interval)
ON CONFLICT (invitation_id) DO UPDATE
   SET score = excluded.score,
       comment = excluded.comment,
       contact_requested = r.contact_requested OR excluded.contact_requested,
       updated_at = now()
 WHERE r.editable_until > now()
RETURNING r.id, r.customer_id, r.invitation_id, r.kind, r.score, r.comment, r.contact_requested, r.channel,
          r.touchpoint, r.answered_at, r.updated_at, r.editable_until, (xmax = 0) AS inserted;

-- name: insert_response
-- Answers collected elsewhere (in-app) without an invitation.
INSERT INTO responses (customer_id, survey_id, kind, score, comment, contact_requested, channel,
                       answered_at, editable_until)
VALUES ($1, $2, $3, $4, $5, $6, 'api', $7::timestamptz, $7::timestamptz + $8::interval)
RETURNING id, customer_id, invitation_id, kind, score, comment, contact_requested, channel,
          touchpoint, answered_at, updated_at, editable_until, true AS inserted;

-- name: mark_invitation_answered
UPDATE invitations SET status = 'answered', updated_at = now() WHERE id = $1;

-- name: response_by_invitation
SELECT id, score, comment, contact_requested, editable_until
  FROM responses
 WHERE invitation_id = $1;

-- name: add_suppression
-- Opting out twice is a no-op: only one active suppression per channel and address.
INSERT INTO suppressions (channel, address, customer_id, reason)
VALUES ($1, $2, $3, $4)
ON CONFLICT (channel, address) WHERE lifted_at IS NULL DO NOTHING
RETURNING id;
