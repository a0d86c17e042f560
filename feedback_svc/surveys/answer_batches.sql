-- Several answers in ONE statement (lib/group_commit.py): the same rows, events, keys and replies
-- as the one-answer statements they stand for (record_api_response_keyed in keyed_answers.sql,
-- answer_invitation in queries.sql), for arrays of inputs, one element per answer. Each answer is
-- written or not on its own (an unknown customer, a closed invitation: no row back for it); an
-- error in any (a key already taken, the same invitation twice) fails the whole statement, and
-- nothing is written. Each row back carries `n`, the answer's place in the arrays (1-based).
--
-- The kinds whose scale admits each score come as one comma-separated text per answer: arrays of
-- arrays must be rectangular. Customers are locked in id order, so two batches cannot deadlock.

-- name: record_api_responses_keyed
-- $1 response ids (made by the caller), $2 customer ids, $3 customer external ids (one of the two),
-- $4 survey keys, $5 admitting kinds, $6 scores, $7 comments, $8 contact requested, $9 answered at,
-- $10 the event topic; each answer's key: $11 API key ids, $12 keys, $13 methods, $14 paths,
-- $15 request hashes, $16 how long each is kept; $17 the lock wait, the same for all.
WITH wanted AS (
    SELECT w.*, coalesce(w.customer_id, (SELECT id FROM customers WHERE external_id = w.external_id)) AS resolved
      FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::int[], $7::text[],
                  $8::bool[], $9::timestamptz[], $11::uuid[], $12::text[], $13::text[], $14::text[],
                  $15::bytea[], $16::interval[])
           WITH ORDINALITY AS w (id, customer_id, external_id, survey, kinds, score, comment, contact_requested,
                                 answered_at, api_key_id, key, method, path, request_hash, keep_for, n)
),
customer AS (
    -- locked first (customers/locks.py); an erased customer takes nothing new
    SELECT id
      FROM customers
     WHERE id IN (SELECT resolved FROM wanted)
       AND erased_at IS NULL
     ORDER BY id
       FOR KEY SHARE
),
answer AS (
    INSERT INTO responses (id, customer_id, survey_id, kind, score, comment, contact_requested, channel,
                           answered_at, editable_until)
    SELECT w.id, c.id, s.id, s.kind, w.score, w.comment, w.contact_requested, 'api', w.answered_at,
           w.answered_at + s.answer_window
      FROM wanted w
      JOIN customer c ON c.id = w.resolved
      JOIN surveys s ON s.key = w.survey AND s.kind = ANY(string_to_array(w.kinds, ','))
    RETURNING id, customer_id, invitation_id, kind, score, comment, contact_requested, channel,
              touchpoint, answered_at, updated_at, editable_until
),
stored AS MATERIALIZED (
    -- each answer with its survey and its timestamps as msgspec writes them
    SELECT a.*, w.survey, f.iso
      FROM answer a
      JOIN wanted w ON w.id = a.id
     CROSS JOIN LATERAL (
           SELECT array_agg(to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
                            || CASE WHEN date_part('microseconds', t AT TIME ZONE 'UTC')::bigint % 1000000 = 0
                                    THEN '' ELSE to_char(t AT TIME ZONE 'UTC', '.US') END
                            || 'Z'
                            ORDER BY k) AS iso
             FROM unnest(ARRAY[a.answered_at, a.updated_at, a.editable_until]) WITH ORDINALITY AS stamp (t, k)
     ) f
),
event AS (
    INSERT INTO outbox (topic, payload, ordering_key, dedupe_key)
    SELECT $10, jsonb_build_object('type', 'response.created', 'data', jsonb_build_object(
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
    -- set once every answer is written (count reads them all): customers are waited for as ever
    SELECT set_config('lock_timeout', $17, true) FROM lock_before CROSS JOIN (SELECT count(*) FROM stored) c
),
reply AS (
    INSERT INTO idempotency_keys (api_key_id, key, method, path, request_hash, expires_at,
                                  response_status, response_body)
    SELECT w.api_key_id, w.key, w.method, w.path, w.request_hash, now() + w.keep_for, 201, convert_to(
               '{"id":"' || r.id || '","customer_id":"' || r.customer_id
               || '","invitation_id":' || coalesce(to_json(r.invitation_id)::text, 'null')
               || ',"survey":' || to_json(r.survey)::text || ',"kind":' || to_json(r.kind)::text
               || ',"score":' || r.score || ',"comment":' || coalesce(to_json(r.comment)::text, 'null')
               || ',"contact_requested":' || r.contact_requested || ',"channel":' || to_json(r.channel)::text
               || ',"touchpoint":' || coalesce(to_json(r.touchpoint)::text, 'null')
               || ',"answered_at":"' || r.iso[1] || '","updated_at":"' || r.iso[2]
               || '","editable_until":"' || r.iso[3] || '"}', 'UTF8')
      FROM stored r
      JOIN wanted w ON w.id = r.id
     CROSS JOIN bounded
    RETURNING api_key_id, key, response_status, response_body,
              set_config('lock_timeout', (SELECT lock_timeout FROM lock_before), true) IS NOT NULL
)
SELECT w.n, p.response_status, p.response_body, r.kind, r.channel
  FROM reply p
  JOIN wanted w ON (w.api_key_id, w.key) = (p.api_key_id, p.key)
  JOIN stored r ON r.id = w.id;

-- name: answer_invitations_by_token
-- $1 token hashes, $2 scores, $3 admitting kinds, $4 comments, $5 contact requested, $6 each
-- answer's time (now, and answered at), $7 the event topic. Returns what answer_invitation returns.
WITH invitation AS (
    -- open as in service.invitation_is_open; the thanks page's texts and placeholders with it
    SELECT w.n, w.score, w.comment, w.contact_requested, w.at,
           i.id, i.customer_id, i.survey_id, i.interaction_id, i.channel, i.locale, c.time_zone,
           s.key AS survey, s.kind, s.answer_window, it.touchpoint, v.texts,
           t.display_names AS touchpoint_names, t.name AS touchpoint_name, it.agent,
           coalesce(it.occurred_at, i.created_at) AS occurred_at
      FROM unnest($1::bytea[], $2::int[], $3::text[], $4::text[], $5::bool[], $6::timestamptz[])
           WITH ORDINALITY AS w (token_hash, score, kinds, comment, contact_requested, at, n)
      JOIN invitations i ON i.token_hash = w.token_hash
      JOIN surveys s ON s.id = i.survey_id
      JOIN survey_versions v ON v.survey_id = i.survey_id AND v.version = i.survey_version
      JOIN customers c ON c.id = i.customer_id
      LEFT JOIN interactions it ON it.id = i.interaction_id
      LEFT JOIN touchpoints t ON t.key = it.touchpoint
     WHERE c.erased_at IS NULL
       AND i.expires_at > w.at
       AND i.status NOT IN ('suppressed', 'failed', 'expired')
       AND s.kind = ANY(string_to_array(w.kinds, ','))
     ORDER BY c.id
       -- the customer first (customers/locks.py)
       FOR KEY SHARE OF c
),
answer AS (
    -- one answer per invitation; a second submission edits it while the window is open (the same
    -- invitation twice in one batch fails the statement: ON CONFLICT cannot touch a row twice)
    INSERT INTO responses AS r (invitation_id, customer_id, survey_id, interaction_id, kind, score, comment,
                                contact_requested, channel, touchpoint, answered_at, editable_until)
    SELECT id, customer_id, survey_id, interaction_id, kind, score, comment, contact_requested,
           coalesce(channel, 'web'), touchpoint, at, at + answer_window
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
     WHERE id IN (SELECT invitation_id FROM answer)
),
event AS (
    -- as answer_invitation writes it
    INSERT INTO outbox (topic, payload, ordering_key, dedupe_key)
    SELECT $7, jsonb_build_object('type', e.type, 'data', jsonb_build_object(
               'id', a.id, 'customer_id', a.customer_id, 'invitation_id', a.invitation_id,
               'survey', i.survey, 'kind', a.kind, 'score', a.score, 'comment', a.comment,
               'contact_requested', a.contact_requested, 'channel', a.channel, 'touchpoint', a.touchpoint,
               'answered_at', f.iso[1] || 'Z', 'updated_at', f.iso[2] || 'Z',
               'editable_until', f.iso[3] || 'Z')),
           a.customer_id::text, e.type || ':' || a.id || ':' || f.iso[2] || '+00:00'
      FROM answer a
      JOIN invitation i ON i.id = a.invitation_id
     CROSS JOIN LATERAL (SELECT CASE WHEN a.inserted THEN 'response.created' ELSE 'response.updated' END
                         AS type) e
     CROSS JOIN LATERAL (
           SELECT array_agg(to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
                            || CASE WHEN date_part('microseconds', t AT TIME ZONE 'UTC')::bigint % 1000000 = 0
                                    THEN '' ELSE to_char(t AT TIME ZONE 'UTC', '.US') END
                            ORDER BY k) AS iso
             FROM unnest(ARRAY[a.answered_at, a.updated_at, a.editable_until]) WITH ORDINALITY AS stamp (t, k)
     ) f
    ON CONFLICT (dedupe_key) DO NOTHING
)
SELECT i.n, a.*, i.survey, i.locale, i.time_zone, i.texts, i.touchpoint_names, i.touchpoint_name, i.agent,
       i.occurred_at
  FROM answer a
  JOIN invitation i ON i.id = a.invitation_id;
