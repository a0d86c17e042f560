-- name: last_invited_at
-- Cooldown across all surveys: the last invitation that actually went (or will go) out.
SELECT max(created_at)
  FROM invitations
 WHERE customer_id = $1
   AND status IN ('scheduled', 'queued', 'sent', 'answered');

-- name: opted_out_channels
-- An erased customer's opt-outs are kept as hashes (privacy/queries.sql): compare both forms.
SELECT channel
  FROM suppressions
 WHERE lifted_at IS NULL
   AND ((channel = 'email' AND address IN (lower($1), 'sha256:' || encode(sha256(convert_to(lower($1), 'UTF8')), 'hex')))
     OR (channel = 'sms' AND address IN ($2, 'sha256:' || encode(sha256(convert_to($2, 'UTF8')), 'hex'))));

-- name: get_survey
SELECT id, key, kind, texts, cooldown, answer_window, token_ttl, active
  FROM surveys
 WHERE key = $1;

-- name: list_surveys
SELECT id, key, kind, texts, cooldown, answer_window, token_ttl, active, version, retired_at
  FROM surveys
 ORDER BY key;

-- name: get_touchpoint
-- The rule for a touchpoint: which survey, after what delay, whether it is critical, the
-- channel it prefers and its own cooldown (NULL: the survey's), and whether it (or its survey)
-- is retired.
SELECT t.key, t.critical, t.invite_delay, s.key AS survey_key, coalesce(s.active, true) AS survey_active,
       t.retired_at, t.channel_preference, t.cooldown
  FROM touchpoints t
  LEFT JOIN surveys s ON s.id = t.survey_id
 WHERE t.key = $1;

-- name: survey_is_active
-- NULL: no such survey (invite says so).
SELECT coalesce((SELECT active FROM surveys WHERE key = $1), true);

-- name: list_touchpoints
SELECT t.key, t.name, t.critical, s.key AS survey, t.invite_delay, t.reminder_count, t.reminder_delay,
       t.updated_at, t.display_names, t.retired_at, t.channel_preference, t.cooldown
  FROM touchpoints t
  LEFT JOIN surveys s ON s.id = t.survey_id
 ORDER BY t.key;

-- name: upsert_touchpoint
-- The whole rule of touchpoint $1, created when it is new; the survey by key ($4, NULL: none).
WITH upserted AS (
    INSERT INTO touchpoints AS t (key, name, critical, survey_id, invite_delay, reminder_count,
                                  reminder_delay, display_names, channel_preference, cooldown)
    VALUES ($1, $2, $3, (SELECT id FROM surveys WHERE key = $4), $5, $6, $7, coalesce($8::jsonb, '{}'),
            $9, $10)
    ON CONFLICT (key) DO UPDATE
       SET name = excluded.name, critical = excluded.critical, survey_id = excluded.survey_id,
           invite_delay = excluded.invite_delay, reminder_count = excluded.reminder_count,
           reminder_delay = excluded.reminder_delay,
           channel_preference = excluded.channel_preference, cooldown = excluded.cooldown,
           -- display names left out ($8 NULL) keep theirs: clients that predate them wipe none
           display_names = coalesce($8::jsonb, t.display_names),
           updated_at = now()
    RETURNING t.key, t.name, t.critical, t.survey_id, t.invite_delay, t.reminder_count, t.reminder_delay,
              t.updated_at, t.display_names, t.retired_at, t.channel_preference, t.cooldown,
              (xmax = 0) AS created
)
SELECT u.key, u.name, u.critical, s.key AS survey, u.invite_delay, u.reminder_count, u.reminder_delay,
       u.updated_at, u.display_names, u.retired_at, u.channel_preference, u.cooldown, u.created
  FROM upserted u
  LEFT JOIN surveys s ON s.id = u.survey_id;

-- name: insert_interaction
-- A resent interaction (same external id) returns the stored one instead of a copy.
WITH inserted AS (
    INSERT INTO interactions (customer_id, external_id, touchpoint, critical, occurred_at,
                              channel_preference, agent, attributes, no_survey_reason)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
    ON CONFLICT (external_id) DO NOTHING
    RETURNING id, customer_id, external_id, touchpoint, critical, occurred_at, channel_preference,
              agent, created_at, no_survey_reason, true AS inserted
)
SELECT * FROM inserted
UNION ALL
SELECT id, customer_id, external_id, touchpoint, critical, occurred_at, channel_preference, agent,
       created_at, no_survey_reason, false
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
                         locale, send_at, sent_at, expires_at, purpose, recovery_task_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
RETURNING id, customer_id, channel, status, reason, send_at, sent_at, expires_at, created_at;

-- name: get_interaction
SELECT id, customer_id, touchpoint FROM interactions WHERE id = $1;

-- name: invitation_by_token
-- The survey page and one-click unsubscribe find the invitation by the hash of its token.
SELECT i.id, i.customer_id, i.interaction_id, i.channel, i.status, i.locale, i.expires_at, i.opened_at,
       i.purpose,
       s.id AS survey_id, s.key AS survey, s.kind, v.texts, s.answer_window,
       c.email, c.phone, c.erased_at IS NOT NULL AS erased, c.time_zone,
       it.touchpoint,
       i.survey_version, t.display_names AS touchpoint_names, t.name AS touchpoint_name, it.agent,
       coalesce(it.occurred_at, i.created_at) AS occurred_at
  FROM invitations i
  JOIN surveys s ON s.id = i.survey_id
  JOIN survey_versions v ON v.survey_id = i.survey_id AND v.version = i.survey_version
  JOIN customers c ON c.id = i.customer_id
  LEFT JOIN interactions it ON it.id = i.interaction_id
  LEFT JOIN touchpoints t ON t.key = it.touchpoint
 WHERE i.token_hash = $1;

-- name: invitation_by_id
SELECT i.id, i.customer_id, i.interaction_id, i.channel, i.status, i.locale, i.expires_at, i.purpose,
       s.id AS survey_id, s.key AS survey, s.kind, v.texts, s.answer_window,
       c.email, c.phone, c.erased_at IS NOT NULL AS erased, c.erased_at, c.time_zone,
       it.touchpoint,
       i.survey_version, t.display_names AS touchpoint_names, t.name AS touchpoint_name, it.agent,
       coalesce(it.occurred_at, i.created_at) AS occurred_at
  FROM invitations i
  JOIN surveys s ON s.id = i.survey_id
  JOIN survey_versions v ON v.survey_id = i.survey_id AND v.version = i.survey_version
  JOIN customers c ON c.id = i.customer_id
  LEFT JOIN interactions it ON it.id = i.interaction_id
  LEFT JOIN touchpoints t ON t.key = it.touchpoint
 WHERE i.id = $1;

-- name: upsert_invited_response
-- One answer per invitation; a second submission edits it while the window is open.
-- No row back means the window has closed (the caller rolls back, the invitation's update too).
-- The invitation is marked answered by the same statement: one round trip fewer per answer.
WITH answered AS (
    UPDATE invitations SET status = 'answered', updated_at = now() WHERE id = $1
)
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

-- name: answer_invitation
-- An answer to an open invitation in one statement (one round trip, one commit): find the
-- invitation by token hash ($1, the survey page) or id ($2, the API), store the answer (or edit
-- it while its window is open), mark the invitation answered and write the response event.
-- No row back means nothing was written: no open invitation, a score outside its scale, or the
-- edit window has closed; the caller then looks again to say which.
WITH invitation AS (
    -- open as in service.invitation_is_open; $5 lists the kinds whose scale admits the score
    -- with what the thanks page fills its placeholders with (its survey version's texts)
    SELECT i.id, i.customer_id, i.survey_id, i.interaction_id, i.channel, i.locale, c.time_zone,
           s.key AS survey, s.kind, s.answer_window, it.touchpoint, v.texts,
           t.display_names AS touchpoint_names, t.name AS touchpoint_name, it.agent,
           coalesce(it.occurred_at, i.created_at) AS occurred_at
      FROM invitations i
      JOIN surveys s ON s.id = i.survey_id
      JOIN survey_versions v ON v.survey_id = i.survey_id AND v.version = i.survey_version
      JOIN customers c ON c.id = i.customer_id
      LEFT JOIN interactions it ON it.id = i.interaction_id
      LEFT JOIN touchpoints t ON t.key = it.touchpoint
     WHERE (i.token_hash = $1 OR i.id = $2)
       AND c.erased_at IS NULL
       AND i.expires_at > $3
       AND i.status NOT IN ('suppressed', 'failed', 'expired')
       AND s.kind = ANY($5::text[])
       -- the customer first (customers/locks.py): an erasure running now makes this wait,
       -- then see the customer erased and write nothing
       FOR KEY SHARE OF c
),
answer AS (
    -- one answer per invitation; a second submission edits it while the window is open
    INSERT INTO responses AS r (invitation_id, customer_id, survey_id, interaction_id, kind, score, comment,
                                contact_requested, channel, touchpoint, answered_at, editable_until)
    SELECT id, customer_id, survey_id, interaction_id, kind, $4, $6, $7, coalesce($8, channel, 'web'),
           touchpoint, $9::timestamptz, $9::timestamptz + answer_window
      FROM invitation
    ON CONFLICT (invitation_id) DO UPDATE
       SET score = excluded.score,
           comment = excluded.comment,
           contact_requested = r.contact_requested OR excluded.contact_requested,
           updated_at = now()
     WHERE r.editable_until > now()
    RETURNING r.id, r.customer_id, r.invitation_id, r.kind, r.score, r.comment, r.contact_requested,
              r.channel, r.touchpoint, r.answered_at, r.updated_at, r.editable_until, (xmax = 0) AS inserted
),
answered AS (
    UPDATE invitations SET status = 'answered', updated_at = now()
     WHERE id = (SELECT invitation_id FROM answer)
),
event AS (
    -- the response event, as service.emit_response_event writes it (timestamps as msgspec
    -- writes them: UTC, 'Z', microseconds only when not zero; the dedupe key as isoformat())
    INSERT INTO outbox (topic, payload, ordering_key, dedupe_key)
    SELECT $10, jsonb_build_object('type', e.type, 'data', jsonb_build_object(
               'id', a.id, 'customer_id', a.customer_id, 'invitation_id', a.invitation_id,
               'survey', i.survey, 'kind', a.kind, 'score', a.score, 'comment', a.comment,
               'contact_requested', a.contact_requested, 'channel', a.channel, 'touchpoint', a.touchpoint,
               'answered_at', f.iso[1] || 'Z', 'updated_at', f.iso[2] || 'Z',
               'editable_until', f.iso[3] || 'Z')),
           a.customer_id::text, e.type || ':' || a.id || ':' || f.iso[2] || '+00:00'
      FROM answer a
     CROSS JOIN invitation i
     CROSS JOIN LATERAL (SELECT CASE WHEN a.inserted THEN 'response.created' ELSE 'response.updated' END
                         AS type) e
     CROSS JOIN LATERAL (
           SELECT array_agg(to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
                            || CASE WHEN date_part('microseconds', t AT TIME ZONE 'UTC')::bigint % 1000000 = 0
                                    THEN '' ELSE to_char(t AT TIME ZONE 'UTC', '.US') END
                            ORDER BY n) AS iso
             FROM unnest(ARRAY[a.answered_at, a.updated_at, a.editable_until]) WITH ORDINALITY AS stamp (t, n)
     ) f
    ON CONFLICT (dedupe_key) DO NOTHING
)
SELECT a.*, i.survey, i.locale, i.time_zone, i.texts, i.touchpoint_names, i.touchpoint_name, i.agent,
       i.occurred_at
  FROM answer a
 CROSS JOIN invitation i;

-- name: record_api_response
-- An answer collected elsewhere (no invitation) in one statement: the customer (by id $1 or
-- external id $2) and survey ($3) looked up, the answer stored and its response.created event
-- written (same payload as answer_invitation). No row back means nothing was written: an unknown
-- customer or survey, or a score outside the survey's scale ($4 lists the kinds admitting it);
-- the caller then looks again to say which.
WITH customer AS (
    -- locked first (customers/locks.py); an erased customer takes nothing new
    SELECT id
      FROM customers
     WHERE id = coalesce($1::uuid, (SELECT id FROM customers WHERE external_id = $2))
       AND erased_at IS NULL
       FOR KEY SHARE
),
survey AS (
    SELECT id, key, kind, answer_window FROM surveys WHERE key = $3 AND kind = ANY($4::text[])
),
answer AS (
    INSERT INTO responses (customer_id, survey_id, kind, score, comment, contact_requested, channel,
                           answered_at, editable_until)
    SELECT c.id, s.id, s.kind, $5, $6, $7, 'api', $8::timestamptz, $8::timestamptz + s.answer_window
      FROM customer c CROSS JOIN survey s
    RETURNING id, customer_id, invitation_id, kind, score, comment, contact_requested, channel,
              touchpoint, answered_at, updated_at, editable_until, true AS inserted
),
event AS (
    INSERT INTO outbox (topic, payload, ordering_key, dedupe_key)
    SELECT $9, jsonb_build_object('type', 'response.created', 'data', jsonb_build_object(
               'id', a.id, 'customer_id', a.customer_id, 'invitation_id', a.invitation_id,
               'survey', s.key, 'kind', a.kind, 'score', a.score, 'comment', a.comment,
               'contact_requested', a.contact_requested, 'channel', a.channel, 'touchpoint', a.touchpoint,
               'answered_at', f.iso[1] || 'Z', 'updated_at', f.iso[2] || 'Z',
               'editable_until', f.iso[3] || 'Z')),
           a.customer_id::text, 'response.created:' || a.id || ':' || f.iso[2] || '+00:00'
      FROM answer a
     CROSS JOIN survey s
     CROSS JOIN LATERAL (
           SELECT array_agg(to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
                            || CASE WHEN date_part('microseconds', t AT TIME ZONE 'UTC')::bigint % 1000000 = 0
                                    THEN '' ELSE to_char(t AT TIME ZONE 'UTC', '.US') END
                            ORDER BY n) AS iso
             FROM unnest(ARRAY[a.answered_at, a.updated_at, a.editable_until]) WITH ORDINALITY AS stamp (t, n)
     ) f
    ON CONFLICT (dedupe_key) DO NOTHING
)
SELECT a.*, s.key AS survey
  FROM answer a
 CROSS JOIN survey s;

-- name: lock_touchpoint
SELECT key, retired_at FROM touchpoints WHERE key = $1 FOR UPDATE;

-- name: retire_touchpoint
-- Interactions with it get no survey from now on; its rule is kept, to be read back.
UPDATE touchpoints SET retired_at = now(), updated_at = now() WHERE key = $1 AND retired_at IS NULL;
