"""An API key may act for one agent: recovery work is done as that agent, whatever name a client sends.

Revision ID: 20261206_0006
Revises: 20261206_0005
Create Date: 2026-12-06

Before this, the agent a recovery request acted for was the `agent` name in its body, so any
agent-scope key could claim a task assigned to anybody. The agent now comes from the key
(`feedback-svc create-key --scope agent --agent bob`) or from the console session. Existing
keys act for nobody: they still work unassigned tasks, never someone's assigned ones.
"""

from alembic import op

revision = "20261206_0006"
down_revision = "20261206_0005"
branch_labels = None
depends_on = None

UPGRADE = r"""
-- the agent this key's recovery work is done as; no spaces, so it never equals the label
-- "<key name> (API key)" that work through a key acting for nobody is recorded under
ALTER TABLE api_keys ADD COLUMN agent text
    CHECK (agent IS NULL OR (agent ~ '^[^[:space:][:cntrl:]]{1,100}$' AND 'agent' = ANY (scopes)));
-- "is anyone able to claim tasks assigned to this name?", asked on every assignment
CREATE INDEX api_keys_agent_idx ON api_keys (agent) WHERE agent IS NOT NULL AND revoked_at IS NULL;
"""

DOWNGRADE = r"""
DROP INDEX IF EXISTS api_keys_agent_idx;
ALTER TABLE api_keys DROP COLUMN IF EXISTS agent;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
