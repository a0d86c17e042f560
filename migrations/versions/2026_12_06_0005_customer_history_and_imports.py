"""A CRM's history: attributes as they were over time, purchase amounts, and bulk imports.

Revision ID: 20261206_0005
Revises: 20261206_0004
Create Date: 2026-12-06

- What the CRM says about a customer (attributes, value, segment) is kept with the time each
  version was valid, so training reads it as it was at each cut-off. The current version stays
  on the customer's row (`attributes_since` says since when); a trigger moves the one it
  replaces into customer_attribute_history, whatever path changes it.
- `customer_since`: when the customer became one, as the CRM knows it (tenure, and who could
  have churned at a past cut-off, for customers loaded long after they joined).
- Events carry a currency and may be refunds; imported events and interactions say which
  import brought them (imported interactions are history: they never invite).
- Imports: a row per file with its progress and counts, the per-row errors, and UNLOGGED
  staging tables the file is copied into before set-based upserts move the valid rows.
"""

from alembic import op

revision = "20261206_0005"
down_revision = "20261206_0004"
branch_labels = None
depends_on = None

UPGRADE = r"""
-- attribute history
ALTER TABLE customers
    ADD COLUMN customer_since timestamptz,
    ADD COLUMN attributes_since timestamptz;
UPDATE customers SET attributes_since = created_at;
ALTER TABLE customers ALTER COLUMN attributes_since SET NOT NULL,
                      ALTER COLUMN attributes_since SET DEFAULT now();

CREATE TABLE customer_attribute_history (
    customer_id  uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    valid_from   timestamptz NOT NULL,
    valid_to     timestamptz NOT NULL CHECK (valid_to > valid_from),
    attributes   jsonb NOT NULL,
    -- NULL: not known for that time (a back-filled version that did not say)
    value        double precision,
    segment      text,
    PRIMARY KEY (customer_id, valid_from)
);

CREATE FUNCTION keep_attribute_history() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- a statement that does not say since when (the API's upsert) means: from now on
    IF NEW.attributes_since IS NOT DISTINCT FROM OLD.attributes_since THEN
        NEW.attributes_since := now();
    END IF;
    -- a version that did not last (changed twice in one transaction) or an older date than
    -- the current version's (back-filled history goes straight to the history table) is not
    -- history to keep
    IF NEW.attributes_since > OLD.attributes_since THEN
        INSERT INTO customer_attribute_history (customer_id, valid_from, valid_to, attributes, value, segment)
        VALUES (OLD.id, OLD.attributes_since, NEW.attributes_since, OLD.attributes, OLD.value, OLD.segment)
        ON CONFLICT (customer_id, valid_from) DO UPDATE
           SET valid_to = excluded.valid_to, attributes = excluded.attributes,
               value = excluded.value, segment = excluded.segment;
    ELSE
        NEW.attributes_since := OLD.attributes_since;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER customers_attribute_history
    BEFORE UPDATE OF attributes, value, segment ON customers
    FOR EACH ROW
    WHEN (NEW.erased_at IS NULL
          AND (OLD.attributes IS DISTINCT FROM NEW.attributes
               OR OLD.value IS DISTINCT FROM NEW.value
               OR OLD.segment IS DISTINCT FROM NEW.segment))
    EXECUTE FUNCTION keep_attribute_history();

-- events: amounts with their currency, refunds, and where they came from
ALTER TABLE customer_events
    ADD COLUMN currency text CHECK (currency ~ '^[A-Z]{3}$'),
    ADD COLUMN import_id uuid;
ALTER TABLE customer_events DROP CONSTRAINT customer_events_kind_check;
ALTER TABLE customer_events ADD CONSTRAINT customer_events_kind_check CHECK (kind IN
    ('churned','renewed','purchase','refunded','upgraded','downgraded','reactivated'));
-- Purchase history features read one customer's events by time, kind and amount from the
-- index alone. Purchases are most of the rows a CRM sends, so they are kept out of the index
-- by kind and time, which only the rare kinds (churn labels, renewals) need; each index an
-- imported purchase does not enter is time saved on every row.
DROP INDEX customer_events_customer_time_idx;
CREATE INDEX customer_events_customer_time_idx ON customer_events (customer_id, occurred_at)
    INCLUDE (kind, amount);
DROP INDEX customer_events_kind_time_idx;
CREATE INDEX customer_events_kind_time_idx ON customer_events (kind, occurred_at)
    WHERE kind NOT IN ('purchase', 'refunded');

ALTER TABLE interactions ADD COLUMN import_id uuid;
-- an import looks for customers erased while it ran (imports/queries.sql): few, found at once
CREATE INDEX customers_erased_idx ON customers (id) WHERE erased_at IS NOT NULL;

-- imports
CREATE TABLE imports (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kind             text NOT NULL CHECK (kind IN ('customers','events','interactions')),
    format           text NOT NULL CHECK (format IN ('csv','ndjson')),
    status           text NOT NULL DEFAULT 'receiving'
                       CHECK (status IN ('receiving','queued','validating','applying','succeeded','failed')),
    api_key_id       uuid REFERENCES api_keys (id) ON DELETE SET NULL,
    requested_by     text NOT NULL,
    file_name        text,
    idempotency_key  text,
    -- how the file is read: {"time_zone": "Europe/Berlin"} for dates without an offset
    options          jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- the same file again (by content) answers with the first import and does nothing
    file_sha256      bytea,
    bytes            bigint NOT NULL DEFAULT 0,
    rows_total       bigint NOT NULL DEFAULT 0,
    rows_valid       bigint NOT NULL DEFAULT 0,
    rows_invalid     bigint NOT NULL DEFAULT 0,
    rows_applied     bigint NOT NULL DEFAULT 0,
    rows_created     bigint NOT NULL DEFAULT 0,
    rows_updated     bigint NOT NULL DEFAULT 0,
    rows_unchanged   bigint NOT NULL DEFAULT 0,
    -- checkpoint: a worker that takes over after a crash validates on from here (import_chunks
    -- says which chunks are written)
    lines_validated  bigint NOT NULL DEFAULT 0,
    message          text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    received_at      timestamptz,
    started_at       timestamptz,
    finished_at      timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX imports_created_idx ON imports (created_at DESC);
CREATE UNIQUE INDEX imports_same_file_idx ON imports (kind, file_sha256)
    WHERE file_sha256 IS NOT NULL AND status <> 'failed';
CREATE UNIQUE INDEX imports_idempotency_idx ON imports (api_key_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL AND status <> 'failed';

-- the chunks of lines already written (a crash can leave gaps when several writers work)
CREATE TABLE import_chunks (
    import_id  uuid NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    chunk      integer NOT NULL,
    PRIMARY KEY (import_id, chunk)
);

CREATE TABLE import_errors (
    import_id  uuid NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    line       bigint NOT NULL,
    field      text,
    message    text NOT NULL
);
CREATE INDEX import_errors_line_idx ON import_errors (import_id, line);

-- Staging: the file as received (lines), then its valid rows, typed. UNLOGGED: nothing here
-- needs to survive a crash (an import caught by one fails and is sent again), and skipping
-- the WAL is much of what makes COPY fast.
CREATE UNLOGGED TABLE import_lines (
    import_id  uuid NOT NULL,
    line       bigint NOT NULL,
    text       text NOT NULL,
    -- why the line cannot be read (not UTF-8, a NUL, too long); its text is then empty
    problem    text
);
CREATE INDEX import_lines_idx ON import_lines (import_id, line);

CREATE UNLOGGED TABLE import_customer_rows (
    import_id       uuid NOT NULL,
    line            bigint NOT NULL,
    external_id     text NOT NULL,
    as_of           timestamptz,
    -- the fields the row carries: an empty CSV cell or an absent JSON key keeps the stored value
    sent            text[] NOT NULL,
    email           text,
    phone           text,
    name            text,
    time_zone       text,
    locale          text,
    value           double precision,
    segment         text,
    customer_since  timestamptz,
    -- JSON text: COPY's binary format has no encoder for jsonb in asyncpg
    attributes      text
);
CREATE INDEX import_customer_rows_idx ON import_customer_rows (import_id, line);

CREATE UNLOGGED TABLE import_event_rows (
    import_id             uuid NOT NULL,
    line                  bigint NOT NULL,
    customer_id           uuid,
    customer_external_id  text,
    kind                  text NOT NULL,
    occurred_at           timestamptz NOT NULL,
    amount                double precision,
    currency              text,
    external_id           text
);
CREATE INDEX import_event_rows_idx ON import_event_rows (import_id, line);

CREATE UNLOGGED TABLE import_interaction_rows (
    import_id             uuid NOT NULL,
    line                  bigint NOT NULL,
    customer_id           uuid,
    customer_external_id  text,
    touchpoint            text NOT NULL,
    occurred_at           timestamptz NOT NULL,
    channel_preference    text,
    agent                 text,
    external_id           text,
    attributes            text NOT NULL
);
CREATE INDEX import_interaction_rows_idx ON import_interaction_rows (import_id, line);
-- Each chunk is planned on fresh statistics (ANALYZE before it, see imports/_apply.py); a
-- small sample keeps that cheap and still tells the planner how many rows a range of lines holds.
ALTER TABLE import_customer_rows ALTER COLUMN line SET STATISTICS 10, ALTER COLUMN import_id SET STATISTICS 10;
ALTER TABLE import_event_rows ALTER COLUMN line SET STATISTICS 10, ALTER COLUMN import_id SET STATISTICS 10;
ALTER TABLE import_interaction_rows ALTER COLUMN line SET STATISTICS 10, ALTER COLUMN import_id SET STATISTICS 10;
"""

DOWNGRADE = r"""
DROP TABLE IF EXISTS import_interaction_rows;
DROP TABLE IF EXISTS import_event_rows;
DROP TABLE IF EXISTS import_customer_rows;
DROP TABLE IF EXISTS import_lines;
DROP TABLE IF EXISTS import_errors;
DROP TABLE IF EXISTS import_chunks;
DROP TABLE IF EXISTS imports;

DROP INDEX IF EXISTS customers_erased_idx;
ALTER TABLE interactions DROP COLUMN IF EXISTS import_id;
DROP INDEX IF EXISTS customer_events_kind_time_idx;
CREATE INDEX customer_events_kind_time_idx ON customer_events (kind, occurred_at);
DROP INDEX IF EXISTS customer_events_customer_time_idx;
CREATE INDEX customer_events_customer_time_idx ON customer_events (customer_id, occurred_at);
DELETE FROM customer_events WHERE kind = 'refunded';
ALTER TABLE customer_events DROP CONSTRAINT customer_events_kind_check;
ALTER TABLE customer_events ADD CONSTRAINT customer_events_kind_check CHECK (kind IN
    ('churned','renewed','purchase','upgraded','downgraded','reactivated'));
ALTER TABLE customer_events DROP COLUMN IF EXISTS import_id, DROP COLUMN IF EXISTS currency;

DROP TRIGGER IF EXISTS customers_attribute_history ON customers;
DROP FUNCTION IF EXISTS keep_attribute_history();
DROP TABLE IF EXISTS customer_attribute_history;
ALTER TABLE customers DROP COLUMN IF EXISTS attributes_since, DROP COLUMN IF EXISTS customer_since;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
