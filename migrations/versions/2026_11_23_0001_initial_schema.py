"""The whole data model of the feedback loop.

Revision ID: 20261123_0001
Revises:
Create Date: 2026-11-23

One migration holds every table the mission needs, so later work adds behaviour
rather than plumbing. Conventions:
- public resources get a uuid id (random, so ids leak no volume); append-only
  high-volume tables (outbox, history, events) use bigint identity for locality;
- every time is timestamptz; every enumerated text column has a CHECK;
- indexes are named for the query they serve, partial where a queue only ever
  reads its live rows.
"""

from alembic import op

revision = "20261123_0001"
down_revision = None
branch_labels = None
depends_on = None

UPGRADE = r"""
CREATE TABLE api_keys (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- the public part of the key, used to find the row; the secret part is only hashed
    prefix        text NOT NULL UNIQUE,
    secret_hash   bytea NOT NULL,
    scopes        text[] NOT NULL CHECK (scopes <@ ARRAY['crm','agent','admin']::text[]
                                         AND cardinality(scopes) > 0),
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz,
    revoked_at    timestamptz,
    last_used_at  timestamptz
);

CREATE TABLE customers (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    external_id   text NOT NULL UNIQUE CHECK (length(external_id) BETWEEN 1 AND 200),
    email         text,
    phone         text,            -- E.164
    name          text,
    time_zone     text NOT NULL DEFAULT 'UTC',
    locale        text NOT NULL DEFAULT 'en',
    value         double precision NOT NULL DEFAULT 0 CHECK (value >= 0),
    segment       text,
    attributes    jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(attributes) = 'object'),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    -- set when the customer was erased: contact details and free text are gone
    erased_at     timestamptz
);
-- inbound SMS and unsubscribe find the customer by address
CREATE INDEX customers_phone_idx ON customers (phone) WHERE phone IS NOT NULL;
CREATE INDEX customers_email_idx ON customers (lower(email)) WHERE email IS NOT NULL;
CREATE INDEX customers_segment_idx ON customers (segment);

-- Which survey follows which kind of interaction, after what delay; critical
-- touchpoints ("moments of truth") get faster recovery deadlines.
CREATE TABLE surveys (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    key              text NOT NULL UNIQUE CHECK (key ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),
    kind             text NOT NULL CHECK (kind IN ('nps','csat','ces')),
    -- {"en": {"question": ..., "reason": ..., "contact": ..., "thanks": ...}, "de": {...}}
    texts            jsonb NOT NULL DEFAULT '{}'::jsonb,
    cooldown         interval NOT NULL DEFAULT '30 days',
    answer_window    interval NOT NULL DEFAULT '7 days',
    token_ttl        interval NOT NULL DEFAULT '14 days',
    active           boolean NOT NULL DEFAULT true,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE touchpoints (
    key              text PRIMARY KEY CHECK (key ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),
    name             text NOT NULL,
    critical         boolean NOT NULL DEFAULT false,
    survey_id        uuid REFERENCES surveys (id) ON DELETE SET NULL,
    invite_delay     interval NOT NULL DEFAULT '1 hour',
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE interactions (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id         uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    -- the CRM's own id, so a resent interaction is recognised
    external_id         text UNIQUE,
    touchpoint          text NOT NULL,
    critical            boolean NOT NULL DEFAULT false,
    occurred_at         timestamptz NOT NULL,
    channel_preference  text CHECK (channel_preference IN ('email','sms','web')),
    agent               text,
    attributes          jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at          timestamptz NOT NULL DEFAULT now()
);
-- the customer's story and the as-of feature queries read interactions by time
CREATE INDEX interactions_customer_time_idx ON interactions (customer_id, occurred_at DESC);
CREATE INDEX interactions_touchpoint_time_idx ON interactions (touchpoint, occurred_at);

CREATE TABLE invitations (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    survey_id          uuid NOT NULL REFERENCES surveys (id),
    customer_id        uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    interaction_id     uuid REFERENCES interactions (id) ON DELETE SET NULL,
    -- NULL when suppressed before a channel was chosen
    channel            text CHECK (channel IN ('email','sms','web')),
    -- sha256 of the token; the token itself exists only in the message sent.
    -- NULL once the invitation is spent by erasure.
    token_hash         bytea UNIQUE,
    status             text NOT NULL CHECK (status IN
                         ('scheduled','queued','sent','answered','suppressed','failed','expired')),
    -- why the decision was taken: 'sent', 'scheduled: quiet hours', 'suppressed: cooldown' ...
    reason             text NOT NULL,
    locale             text NOT NULL DEFAULT 'en',
    send_at            timestamptz,
    sent_at            timestamptz,
    expires_at         timestamptz NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
-- cooldown: "when was this customer last asked?"
CREATE INDEX invitations_customer_time_idx ON invitations (customer_id, created_at DESC);
-- the scheduler only reads invitations that are still waiting
CREATE INDEX invitations_due_idx ON invitations (send_at) WHERE status = 'scheduled';

CREATE TABLE responses (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- one answer per invitation; an edit updates it in place
    invitation_id       uuid UNIQUE REFERENCES invitations (id) ON DELETE SET NULL,
    customer_id         uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    survey_id           uuid NOT NULL REFERENCES surveys (id),
    interaction_id      uuid REFERENCES interactions (id) ON DELETE SET NULL,
    kind                text NOT NULL CHECK (kind IN ('nps','csat','ces')),
    score               smallint NOT NULL,
    comment             text CHECK (length(comment) <= 5000),
    contact_requested   boolean NOT NULL DEFAULT false,
    channel             text NOT NULL CHECK (channel IN ('email','sms','web','api')),
    -- denormalised so analytics by touchpoint needs no join
    touchpoint          text,
    answered_at         timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    editable_until      timestamptz NOT NULL,
    CHECK ((kind = 'nps'  AND score BETWEEN 0 AND 10)
        OR (kind = 'csat' AND score BETWEEN 1 AND 5)
        OR (kind = 'ces'  AND score BETWEEN 1 AND 7))
);
CREATE INDEX responses_customer_time_idx ON responses (customer_id, answered_at DESC);
CREATE INDEX responses_kind_time_idx ON responses (kind, answered_at);

-- SMS conversations: which invitation a reply from this number belongs to, and
-- what we are waiting for (a score, then a reason).
CREATE TABLE sms_conversations (
    phone            text PRIMARY KEY,
    invitation_id    uuid REFERENCES invitations (id) ON DELETE CASCADE,
    state            text NOT NULL CHECK (state IN ('awaiting_score','awaiting_reason','closed')),
    reprompted       boolean NOT NULL DEFAULT false,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- Every inbound provider message, keyed by the provider's id so a redelivery is a no-op.
CREATE TABLE inbound_messages (
    provider_message_id  text PRIMARY KEY,
    from_phone           text NOT NULL,
    body                 text NOT NULL,
    received_at          timestamptz NOT NULL DEFAULT now(),
    processed_at         timestamptz,
    outcome              text
);
CREATE INDEX inbound_messages_unprocessed_idx ON inbound_messages (received_at)
    WHERE processed_at IS NULL;

CREATE TABLE customer_events (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id   uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    external_id   text UNIQUE,
    kind          text NOT NULL CHECK (kind IN
                    ('churned','renewed','purchase','upgraded','downgraded','reactivated')),
    occurred_at   timestamptz NOT NULL,
    amount        double precision,
    attributes    jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at    timestamptz NOT NULL DEFAULT now()
);
-- labels: "did this customer churn within the horizon after the cut-off?"
CREATE INDEX customer_events_customer_time_idx ON customer_events (customer_id, occurred_at);
CREATE INDEX customer_events_kind_time_idx ON customer_events (kind, occurred_at);

-- Opt-outs. Keyed by address, not customer, so an erased or re-created customer
-- with the same address stays opted out.
CREATE TABLE suppressions (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel       text NOT NULL CHECK (channel IN ('email','sms')),
    -- lower-cased email or E.164 phone; sha256 hex after erasure
    address       text NOT NULL,
    customer_id   uuid REFERENCES customers (id) ON DELETE SET NULL,
    reason        text NOT NULL CHECK (reason IN
                    ('unsubscribe','sms_stop','complaint','bounce','manual')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    lifted_at     timestamptz
);
CREATE UNIQUE INDEX suppressions_active_idx ON suppressions (channel, address) WHERE lifted_at IS NULL;

-- Transactional outbox: written in the same transaction as the change that caused
-- it; drained by workers claiming with FOR UPDATE SKIP LOCKED and a lease.
CREATE TABLE outbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic           text NOT NULL,
    payload         jsonb NOT NULL,
    -- work for one key (e.g. one customer) is done in order
    ordering_key    text,
    -- a second enqueue of the same work is a no-op
    dedupe_key      text UNIQUE,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','done','dead')),
    attempts        integer NOT NULL DEFAULT 0,
    run_after       timestamptz NOT NULL DEFAULT now(),
    locked_by       text,
    locked_until    timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz
);
CREATE INDEX outbox_ready_idx ON outbox (topic, run_after, id) WHERE status = 'pending';

CREATE TABLE webhook_endpoints (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    url             text NOT NULL CHECK (url ~ '^https?://'),
    description     text,
    -- the signing secret must be readable to sign; it never leaves the service again
    secret          text NOT NULL,
    event_types     text[] NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now(),
    disabled_at     timestamptz,
    disabled_reason text
);

CREATE TABLE webhook_deliveries (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    endpoint_id       uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    -- the Standard Webhooks message id; the same event keeps it across retries
    message_id        text NOT NULL,
    event_type        text NOT NULL,
    payload           jsonb NOT NULL,
    ordering_key      text,
    status            text NOT NULL DEFAULT 'pending' CHECK (status IN
                        ('pending','succeeded','failed','disabled')),
    attempts          integer NOT NULL DEFAULT 0,
    next_attempt_at   timestamptz NOT NULL DEFAULT now(),
    locked_until      timestamptz,
    last_status_code  integer,
    last_error        text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    delivered_at      timestamptz,
    UNIQUE (endpoint_id, message_id)
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at, id)
    WHERE status = 'pending';

CREATE TABLE users (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email            text NOT NULL,
    name             text NOT NULL,
    role             text NOT NULL CHECK (role IN ('agent','manager')),
    password_hash    text NOT NULL,   -- argon2id
    failed_logins    integer NOT NULL DEFAULT 0,
    locked_until     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    disabled_at      timestamptz
);
CREATE UNIQUE INDEX users_email_idx ON users (lower(email));

CREATE TABLE user_sessions (
    -- sha256 of the cookie value
    token_hash    bytea PRIMARY KEY,
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL
);
CREATE INDEX user_sessions_expiry_idx ON user_sessions (expires_at);

-- Trained models; exactly one active per kind, so every replica serves the same one.
CREATE TABLE models (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kind           text NOT NULL DEFAULT 'churn_loyalty',
    version        text NOT NULL UNIQUE,
    artifact       bytea NOT NULL,           -- skops bytes, never a pickle
    card           jsonb NOT NULL,
    metrics        jsonb NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    activated_at   timestamptz,
    active         boolean NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX models_one_active_idx ON models (kind) WHERE active;

CREATE TABLE scores (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id        uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    model_version      text NOT NULL,
    churn_probability  double precision NOT NULL CHECK (churn_probability BETWEEN 0 AND 1),
    loyalty            double precision NOT NULL CHECK (loyalty BETWEEN 0 AND 1),
    risk_band          text NOT NULL,
    reasons            jsonb NOT NULL DEFAULT '[]'::jsonb,
    scored_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX scores_customer_time_idx ON scores (customer_id, scored_at DESC);

CREATE TABLE recovery_tasks (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id         uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    status              text NOT NULL DEFAULT 'open' CHECK (status IN ('open','resolved')),
    -- the strongest trigger so far decides urgency and deadline
    trigger             text NOT NULL,
    touchpoint          text,
    critical            boolean NOT NULL DEFAULT false,
    priority            double precision NOT NULL,
    -- why the task stands where it does in the order, in words and numbers
    priority_reasons    jsonb NOT NULL DEFAULT '[]'::jsonb,
    value_at_risk       double precision NOT NULL DEFAULT 0,
    deadline_at         timestamptz NOT NULL,
    escalated_at        timestamptz,
    -- random control share: eligible tasks deliberately left uncontacted
    control             boolean NOT NULL DEFAULT false,
    assignee            text,
    -- a claim is a lease: whoever holds lease_token until lease_expires_at
    lease_token         uuid,
    lease_expires_at    timestamptz,
    first_contact_at    timestamptz,
    outcome             text CHECK (outcome IN
                          ('recovered','not_recovered','unreachable','no_action_needed')),
    root_cause          text,
    resolved_at         timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'resolved') = (outcome IS NOT NULL))
);
-- one open task per customer: new evidence joins it instead of a second task
CREATE UNIQUE INDEX recovery_tasks_one_open_idx ON recovery_tasks (customer_id) WHERE status = 'open';
-- claim next: highest priority first among open tasks
CREATE INDEX recovery_tasks_claim_idx ON recovery_tasks (priority DESC, created_at) WHERE status = 'open';
CREATE INDEX recovery_tasks_deadline_idx ON recovery_tasks (deadline_at) WHERE status = 'open' AND escalated_at IS NULL;
CREATE INDEX recovery_tasks_customer_idx ON recovery_tasks (customer_id, created_at DESC);

CREATE TABLE recovery_evidence (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_id        uuid NOT NULL REFERENCES recovery_tasks (id) ON DELETE CASCADE,
    trigger        text NOT NULL,
    response_id    uuid REFERENCES responses (id) ON DELETE SET NULL,
    score_id       bigint REFERENCES scores (id) ON DELETE SET NULL,
    details        jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX recovery_evidence_task_idx ON recovery_evidence (task_id, id);
-- a trigger fires once per response
CREATE UNIQUE INDEX recovery_evidence_response_idx ON recovery_evidence (response_id, trigger)
    WHERE response_id IS NOT NULL;

CREATE TABLE recovery_task_history (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_id      uuid NOT NULL REFERENCES recovery_tasks (id) ON DELETE CASCADE,
    actor        text NOT NULL,
    action       text NOT NULL,
    details      jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX recovery_task_history_task_idx ON recovery_task_history (task_id, id);

CREATE TABLE idempotency_keys (
    api_key_id       uuid NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    key              text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    method           text NOT NULL,
    path             text NOT NULL,
    request_hash     bytea NOT NULL,
    -- NULL while the first request is still running
    response_status  integer,
    response_body    bytea,
    response_headers jsonb,
    created_at       timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz NOT NULL,
    PRIMARY KEY (api_key_id, key)
);
CREATE INDEX idempotency_keys_expiry_idx ON idempotency_keys (expires_at);

CREATE TABLE audit_log (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    actor_type   text NOT NULL CHECK (actor_type IN ('api_key','user','system')),
    actor_id     text NOT NULL,
    action       text NOT NULL,
    target_type  text,
    target_id    text,
    details      jsonb NOT NULL DEFAULT '{}'::jsonb,
    request_id   text,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_time_idx ON audit_log (created_at DESC);
CREATE INDEX audit_log_actor_idx ON audit_log (actor_type, actor_id, created_at DESC);
"""

DOWNGRADE = r"""
DROP TABLE IF EXISTS
    audit_log, idempotency_keys, recovery_task_history, recovery_evidence, recovery_tasks,
    scores, models, user_sessions, users, webhook_deliveries, webhook_endpoints, outbox,
    suppressions, customer_events, inbound_messages, sms_conversations, responses,
    invitations, interactions, touchpoints, surveys, customers, api_keys
CASCADE;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
