-- name: upsert_customers
-- Create-or-update by the CRM's id, for one customer or for a group committed together
-- (customers/creations.py): row i is ($1[i], $2[i]), external ids distinct. $2[i] holds only
-- the fields the CRM sent, so omitted ones keep their stored value; attributes merge and a null
-- removes a key. The update reads its row's fields back from `input`: ON CONFLICT sees only the
-- proposed row, not which fields were sent. xmax = 0 tells a fresh insert from an update. A
-- customer whose merged attributes would pass the per-customer limit ($3 keys) returns no row
-- and is not changed. Rows are written in external-id order, so two groups never wait on each
-- other's rows in opposite orders.
WITH input AS (
    SELECT * FROM unnest($1::text[], $2::jsonb[]) AS i(external_id, fields)
)
INSERT INTO customers AS c
       (external_id, email, phone, name, time_zone, locale, value, segment, customer_since, attributes)
SELECT external_id,
       fields->>'email',
       fields->>'phone',
       fields->>'name',
       coalesce(fields->>'time_zone', 'UTC'),
       coalesce(fields->>'locale', 'en'),
       coalesce((fields->>'value')::double precision, 0),
       fields->>'segment',
       (fields->>'customer_since')::timestamptz,
       jsonb_strip_nulls(coalesce(fields->'attributes', '{}'::jsonb))
  FROM input
 ORDER BY external_id
ON CONFLICT (external_id) DO UPDATE SET
       (email, phone, name, time_zone, locale, value, segment, customer_since, attributes, updated_at) = (
        SELECT CASE WHEN i.fields ? 'email'     THEN excluded.email     ELSE c.email END,
               CASE WHEN i.fields ? 'phone'     THEN excluded.phone     ELSE c.phone END,
               CASE WHEN i.fields ? 'name'      THEN excluded.name      ELSE c.name END,
               CASE WHEN i.fields ? 'time_zone' THEN excluded.time_zone ELSE c.time_zone END,
               CASE WHEN i.fields ? 'locale'    THEN excluded.locale    ELSE c.locale END,
               CASE WHEN i.fields ? 'value'     THEN excluded.value     ELSE c.value END,
               CASE WHEN i.fields ? 'segment'   THEN excluded.segment   ELSE c.segment END,
               CASE WHEN i.fields ? 'customer_since' THEN excluded.customer_since ELSE c.customer_since END,
               jsonb_strip_nulls(c.attributes || coalesce(i.fields->'attributes', '{}'::jsonb)),
               now()
          FROM input i
         WHERE i.external_id = excluded.external_id)
 WHERE (SELECT NOT i.fields ? 'attributes'
            OR (SELECT count(*) FROM jsonb_object_keys(
                    jsonb_strip_nulls(c.attributes || (i.fields->'attributes')))) <= $3
          FROM input i
         WHERE i.external_id = excluded.external_id)
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
