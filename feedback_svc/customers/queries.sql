-- name: upsert_customer
-- One statement for create-or-update by the CRM's id. $2 holds only the fields
-- the CRM sent, so omitted ones keep their stored value; attributes merge and a
-- null removes a key. xmax = 0 tells a fresh insert from an update. No row back:
-- the merged attributes would pass the per-customer limit ($3 keys); nothing changed.
INSERT INTO customers AS c
       (external_id, email, phone, name, time_zone, locale, value, segment, customer_since, attributes)
VALUES ($1,
        $2::jsonb->>'email',
        $2::jsonb->>'phone',
        $2::jsonb->>'name',
        coalesce($2::jsonb->>'time_zone', 'UTC'),
        coalesce($2::jsonb->>'locale', 'en'),
        coalesce(($2::jsonb->>'value')::double precision, 0),
        $2::jsonb->>'segment',
        ($2::jsonb->>'customer_since')::timestamptz,
        jsonb_strip_nulls(coalesce($2::jsonb->'attributes', '{}'::jsonb)))
ON CONFLICT (external_id) DO UPDATE SET
       email      = CASE WHEN $2::jsonb ? 'email'     THEN excluded.email     ELSE c.email END,
       phone      = CASE WHEN $2::jsonb ? 'phone'     THEN excluded.phone     ELSE c.phone END,
       name       = CASE WHEN $2::jsonb ? 'name'      THEN excluded.name      ELSE c.name END,
       time_zone  = CASE WHEN $2::jsonb ? 'time_zone' THEN excluded.time_zone ELSE c.time_zone END,
       locale     = CASE WHEN $2::jsonb ? 'locale'    THEN excluded.locale    ELSE c.locale END,
       value      = CASE WHEN $2::jsonb ? 'value'     THEN excluded.value     ELSE c.value END,
       segment    = CASE WHEN $2::jsonb ? 'segment'   THEN excluded.segment   ELSE c.segment END,
       customer_since = CASE WHEN $2::jsonb ? 'customer_since' THEN excluded.customer_since
                             ELSE c.customer_since END,
       attributes = jsonb_strip_nulls(c.attributes || coalesce($2::jsonb->'attributes', '{}'::jsonb)),
       updated_at = now()
 WHERE NOT $2::jsonb ? 'attributes'
    OR (SELECT count(*) FROM jsonb_object_keys(
            jsonb_strip_nulls(c.attributes || ($2::jsonb->'attributes')))) <= $3
RETURNING id, external_id, email, phone, name, time_zone, locale, value, segment, customer_since, attributes,
          created_at, updated_at, (xmax = 0) AS inserted;

-- name: attribute_count_after
-- How many attributes the customer would have with $2 merged in (to say why an upsert was refused).
SELECT count(*)
  FROM customers c, jsonb_object_keys(jsonb_strip_nulls(c.attributes || $2::jsonb))
 WHERE c.external_id = $1;

-- name: list_customers
-- Live customers by id, a page at a time ($2: the last id of the previous page); $1 narrows to
-- one CRM id.
SELECT id, external_id, email, phone, name, time_zone, locale, value, segment, customer_since,
       attributes, created_at, updated_at
  FROM customers
 WHERE erased_at IS NULL
   AND ($1::text IS NULL OR external_id = $1)
   AND ($2::uuid IS NULL OR id > $2)
 ORDER BY id
 LIMIT $3;

-- name: customer_id_by_external_id
SELECT id FROM customers WHERE external_id = $1;

-- name: get_customer
SELECT erased_at, id, external_id, email, phone, name, time_zone, locale, value, segment, customer_since,
       attributes, created_at, updated_at
  FROM customers
 WHERE id = $1;

-- name: lock_customer_shared
-- The first lock a transaction takes on a customer it writes for (locks.py says why).
-- KEY SHARE: writers do not wait for each other, only an erasure waits for them (and
-- they for it, then see it).
SELECT id, erased_at FROM customers WHERE id = $1 FOR KEY SHARE;

-- name: lock_customer_exclusive
-- The first lock of a transaction that decides something per customer (an invitation
-- under the cooldown): NO KEY UPDATE serialises those deciders, yet inserts that only
-- reference the customer (KEY SHARE) pass.
SELECT id, email, phone, time_zone, locale, erased_at FROM customers WHERE id = $1 FOR NO KEY UPDATE;

-- name: insert_customer_event
-- A resent event (same external id) is not stored twice; the caller reads the first.
INSERT INTO customer_events (customer_id, external_id, kind, occurred_at, amount, currency)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (external_id) DO NOTHING
RETURNING id, customer_id, kind, occurred_at, amount AS value, currency, external_id, created_at;

-- name: customer_event_by_external_id
SELECT id, customer_id, kind, occurred_at, amount AS value, currency, external_id, created_at
  FROM customer_events
 WHERE external_id = $1;
