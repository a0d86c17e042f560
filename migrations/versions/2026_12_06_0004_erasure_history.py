"""Erasure reaches every contact detail a customer ever had; an erased row keeps no CRM id.

Revision ID: 20261206_0004
Revises: 20261123_0003
Create Date: 2026-12-06

Every earlier email, phone and name is kept (with when it stopped being current) so that
erasure can find what was sent from or to it, and export can hand it over. A trigger keeps
it, whatever path changes the row. An erased customer has no external id at all, so nothing
the CRM sends can address or revive it.
"""

from alembic import op

revision = "20261206_0004"
down_revision = "20261123_0003"
branch_labels = None
depends_on = None

UPGRADE = r"""
ALTER TABLE customers ALTER COLUMN external_id DROP NOT NULL;
UPDATE customers SET external_id = NULL WHERE erased_at IS NOT NULL;
ALTER TABLE customers ADD CONSTRAINT customers_erased_no_external_id
    CHECK (erased_at IS NULL OR external_id IS NULL);

CREATE TABLE customer_contact_history (
    customer_id  uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    kind         text NOT NULL CHECK (kind IN ('email', 'phone', 'name')),
    value        text NOT NULL,
    valid_from   timestamptz NOT NULL,
    valid_to     timestamptz NOT NULL,
    PRIMARY KEY (customer_id, kind, valid_to, value)
);
-- inbound SMS from a number the customer had before
CREATE INDEX customer_contact_history_value_idx ON customer_contact_history (kind, value);

CREATE FUNCTION keep_contact_history() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed_at timestamptz := now();
BEGIN
    INSERT INTO customer_contact_history (customer_id, kind, value, valid_from, valid_to)
    SELECT OLD.id, old_value.kind, old_value.value,
           coalesce((SELECT max(h.valid_to) FROM customer_contact_history h
                      WHERE h.customer_id = OLD.id AND h.kind = old_value.kind), OLD.created_at),
           changed_at
      FROM (VALUES ('email', OLD.email, NEW.email),
                   ('phone', OLD.phone, NEW.phone),
                   ('name', OLD.name, NEW.name)) AS old_value (kind, value, new_value)
     WHERE old_value.value IS NOT NULL AND old_value.value IS DISTINCT FROM old_value.new_value
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;

-- erasure blanks these too, with erased_at set: that change is not history to keep
CREATE TRIGGER customers_contact_history
    AFTER UPDATE OF email, phone, name ON customers
    FOR EACH ROW
    WHEN (NEW.erased_at IS NULL
          AND (OLD.email IS DISTINCT FROM NEW.email
               OR OLD.phone IS DISTINCT FROM NEW.phone
               OR OLD.name IS DISTINCT FROM NEW.name))
    EXECUTE FUNCTION keep_contact_history();
"""

DOWNGRADE = r"""
DROP TRIGGER IF EXISTS customers_contact_history ON customers;
DROP FUNCTION IF EXISTS keep_contact_history();
DROP TABLE IF EXISTS customer_contact_history;
ALTER TABLE customers DROP CONSTRAINT IF EXISTS customers_erased_no_external_id;
UPDATE customers SET external_id = 'erased:' || id::text WHERE external_id IS NULL;
ALTER TABLE customers ALTER COLUMN external_id SET NOT NULL;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
