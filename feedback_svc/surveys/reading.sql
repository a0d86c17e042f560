-- name: invitation_record
-- One invitation as the CRM reads it back, with its answer if there is one.
SELECT i.id, i.customer_id, c.external_id AS customer_external_id, c.erased_at IS NOT NULL AS erased,
       s.key AS survey, s.kind, i.interaction_id, i.channel, i.status, i.reason, i.locale, i.send_at,
       i.sent_at, i.opened_at, r.answered_at, r.id AS response_id, i.expires_at, i.created_at, i.updated_at
  FROM invitations i
  JOIN surveys s ON s.id = i.survey_id
  JOIN customers c ON c.id = i.customer_id
  LEFT JOIN responses r ON r.invitation_id = i.id
 WHERE i.id = $1;

-- name: list_invitation_records
-- Newest first, a page at a time: ($7, $8) is the last (created_at, id) of the previous page.
-- Erased customers' invitations are not listed (asked for by customer, they answer 410).
SELECT i.id, i.customer_id, c.external_id AS customer_external_id, false AS erased,
       s.key AS survey, s.kind, i.interaction_id, i.channel, i.status, i.reason, i.locale, i.send_at,
       i.sent_at, i.opened_at, r.answered_at, r.id AS response_id, i.expires_at, i.created_at, i.updated_at
  FROM invitations i
  JOIN surveys s ON s.id = i.survey_id
  JOIN customers c ON c.id = i.customer_id
  LEFT JOIN responses r ON r.invitation_id = i.id
 WHERE c.erased_at IS NULL
   AND ($1::uuid IS NULL OR i.customer_id = $1)
   AND ($2::text IS NULL OR i.status = $2)
   AND ($3::text IS NULL OR i.channel = $3)
   AND ($4::text IS NULL OR s.key = $4)
   AND ($5::timestamptz IS NULL OR i.created_at >= $5)
   AND ($6::timestamptz IS NULL OR i.created_at < $6)
   AND ($7::timestamptz IS NULL OR (i.created_at, i.id) < ($7, $8::uuid))
 ORDER BY i.created_at DESC, i.id DESC
 LIMIT $9;

-- name: invitation_histories
-- The history of each invitation on a page, oldest first (seq orders what one transaction did).
SELECT invitation_id, at, event, reason, channel
  FROM invitation_history
 WHERE invitation_id = ANY($1::uuid[])
 ORDER BY invitation_id, seq;

-- name: mark_invitation_opened
-- The first load of the survey page from its link; later loads change nothing.
UPDATE invitations SET opened_at = now() WHERE id = $1 AND opened_at IS NULL;
