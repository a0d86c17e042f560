-- The API's answers with an Idempotency-Key, each in ONE statement: the answer, its response event,
-- the key and the reply to replay, all committed together (a single statement is its own
-- transaction). BEGIN, a claim, a store of the reply and COMMIT would be four more round trips,
-- each costing the server about as much CPU as the statement.
--
-- The key is inserted last, carrying the reply, so these statements lock in the usual order (the
-- customer first, customers/locks.py) and the key row is only ever written complete. The key is a
-- plain insert: a key already taken (a replay, a reuse, an expired key not yet purged) fails the
-- whole statement with a unique violation, so nothing is written, and the caller takes the usual
-- path (lib/idempotency.py) that says which. A key still held by a running request is waited for at
-- most the lock wait given, as in claim_idempotency_key, then the caller answers 409.
--
-- The reply is written here byte for byte as the route's msgspec encoder writes a SurveyResponse:
-- fields in order, no spaces, strings escaped as to_json escapes them (the same as msgspec for the
-- text a cleaned comment can hold), timestamps in UTC with 'Z' and microseconds only when not zero.
-- No row back means nothing was written, as for the statements in queries.sql.

-- name: record_api_response_keyed
-- record_api_response (queries.sql, $1-$9) with the key: $10 API key id, $11 key, $12 method,
-- $13 path, $14 request hash, $15 how long the key is kept, $16 the lock wait.
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
              touchpoint, answered_at, updated_at, editable_until
),
stored AS MATERIALIZED (
    -- the answer with its survey and its timestamps as msgspec writes them
    SELECT a.*, s.key AS survey, f.iso
      FROM answer a
     CROSS JOIN survey s
     CROSS JOIN LATERAL (
           SELECT array_agg(to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
                            || CASE WHEN date_part('microseconds', t AT TIME ZONE 'UTC')::bigint % 1000000 = 0
                                    THEN '' ELSE to_char(t AT TIME ZONE 'UTC', '.US') END
                            || 'Z'
                            ORDER BY n) AS iso
             FROM unnest(ARRAY[a.answered_at, a.updated_at, a.editable_until]) WITH ORDINALITY AS stamp (t, n)
     ) f
),
event AS (
    -- the same event as record_api_response writes
    INSERT INTO outbox (topic, payload, ordering_key, dedupe_key)
    SELECT $9, jsonb_build_object('type', 'response.created', 'data', jsonb_build_object(
               'id', r.id, 'customer_id', r.customer_id, 'invitation_id', r.invitation_id,
               'survey', r.survey, 'kind', r.kind, 'score', r.score, 'comment', r.comment,
               'contact_requested', r.contact_requested, 'channel', r.channel, 'touchpoint', r.touchpoint,
               'answered_at', r.iso[1], 'updated_at', r.iso[2], 'editable_until', r.iso[3])),
           r.customer_id::text, 'response.created:' || r.id || ':' || rtrim(r.iso[2], 'Z') || '+00:00'
      FROM stored r
    ON CONFLICT (dedupe_key) DO NOTHING
),
lock_before AS MATERIALIZED (
    SELECT current_setting('lock_timeout') AS lock_timeout
),
bounded AS MATERIALIZED (
    -- set only once the answer is written: the customer's lock is waited for as long as ever
    SELECT set_config('lock_timeout', $16, true) FROM lock_before CROSS JOIN stored
),
reply AS (
    INSERT INTO idempotency_keys (api_key_id, key, method, path, request_hash, expires_at,
                                  response_status, response_body)
    SELECT $10, $11, $12, $13, $14, now() + $15::interval, 201, convert_to(
               '{"id":"' || r.id || '","customer_id":"' || r.customer_id
               || '","invitation_id":' || coalesce(to_json(r.invitation_id)::text, 'null')
               || ',"survey":' || to_json(r.survey)::text || ',"kind":' || to_json(r.kind)::text
               || ',"score":' || r.score || ',"comment":' || coalesce(to_json(r.comment)::text, 'null')
               || ',"contact_requested":' || r.contact_requested || ',"channel":' || to_json(r.channel)::text
               || ',"touchpoint":' || coalesce(to_json(r.touchpoint)::text, 'null')
               || ',"answered_at":"' || r.iso[1] || '","updated_at":"' || r.iso[2]
               || '","editable_until":"' || r.iso[3] || '"}', 'UTF8')
      FROM stored r CROSS JOIN bounded
    RETURNING response_status, response_body,
              set_config('lock_timeout', (SELECT lock_timeout FROM lock_before), true) IS NOT NULL
)
SELECT p.response_status, p.response_body, r.kind, r.channel
  FROM reply p
 CROSS JOIN stored r;

-- name: answer_invitation_keyed
-- answer_invitation (queries.sql, $1-$10, here always by id) with the key: $11 API key id, $12 key,
-- $13 method, $14 path, $15 request hash, $16 how long the key is kept, $17 the lock wait.
WITH invitation AS (
    -- open as in service.invitation_is_open; $5 lists the kinds whose scale admits the score
    SELECT i.id, i.customer_id, i.survey_id, i.interaction_id, i.channel, s.key AS survey, s.kind,
           s.answer_window, it.touchpoint
      FROM invitations i
      JOIN surveys s ON s.id = i.survey_id
      JOIN customers c ON c.id = i.customer_id
      LEFT JOIN interactions it ON it.id = i.interaction_id
     WHERE (i.token_hash = $1 OR i.id = $2)
       AND c.erased_at IS NULL
       AND i.expires_at > $3
       AND i.status NOT IN ('suppressed', 'failed', 'expired')
       AND s.kind = ANY($5::text[])
       -- the customer first (customers/locks.py)
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
stored AS MATERIALIZED (
    SELECT a.*, i.survey, f.iso,
           CASE WHEN a.inserted THEN 'response.created' ELSE 'response.updated' END AS event_type
      FROM answer a
     CROSS JOIN invitation i
     CROSS JOIN LATERAL (
           SELECT array_agg(to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
                            || CASE WHEN date_part('microseconds', t AT TIME ZONE 'UTC')::bigint % 1000000 = 0
                                    THEN '' ELSE to_char(t AT TIME ZONE 'UTC', '.US') END
                            || 'Z'
                            ORDER BY n) AS iso
             FROM unnest(ARRAY[a.answered_at, a.updated_at, a.editable_until]) WITH ORDINALITY AS stamp (t, n)
     ) f
),
event AS (
    INSERT INTO outbox (topic, payload, ordering_key, dedupe_key)
    SELECT $10, jsonb_build_object('type', r.event_type, 'data', jsonb_build_object(
               'id', r.id, 'customer_id', r.customer_id, 'invitation_id', r.invitation_id,
               'survey', r.survey, 'kind', r.kind, 'score', r.score, 'comment', r.comment,
               'contact_requested', r.contact_requested, 'channel', r.channel, 'touchpoint', r.touchpoint,
               'answered_at', r.iso[1], 'updated_at', r.iso[2], 'editable_until', r.iso[3])),
           r.customer_id::text, r.event_type || ':' || r.id || ':' || rtrim(r.iso[2], 'Z') || '+00:00'
      FROM stored r
    ON CONFLICT (dedupe_key) DO NOTHING
),
lock_before AS MATERIALIZED (
    SELECT current_setting('lock_timeout') AS lock_timeout
),
bounded AS MATERIALIZED (
    SELECT set_config('lock_timeout', $17, true) FROM lock_before CROSS JOIN stored
),
reply AS (
    INSERT INTO idempotency_keys (api_key_id, key, method, path, request_hash, expires_at,
                                  response_status, response_body)
    SELECT $11, $12, $13, $14, $15, now() + $16::interval, 201, convert_to(
               '{"id":"' || r.id || '","customer_id":"' || r.customer_id
               || '","invitation_id":' || coalesce(to_json(r.invitation_id)::text, 'null')
               || ',"survey":' || to_json(r.survey)::text || ',"kind":' || to_json(r.kind)::text
               || ',"score":' || r.score || ',"comment":' || coalesce(to_json(r.comment)::text, 'null')
               || ',"contact_requested":' || r.contact_requested || ',"channel":' || to_json(r.channel)::text
               || ',"touchpoint":' || coalesce(to_json(r.touchpoint)::text, 'null')
               || ',"answered_at":"' || r.iso[1] || '","updated_at":"' || r.iso[2]
               || '","editable_until":"' || r.iso[3] || '"}', 'UTF8')
      FROM stored r CROSS JOIN bounded
    RETURNING response_status, response_body,
              set_config('lock_timeout', (SELECT lock_timeout FROM lock_before), true) IS NOT NULL
)
SELECT p.response_status, p.response_body, r.kind, r.channel
  FROM reply p
 CROSS JOIN stored r;
