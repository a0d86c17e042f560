"""The one order in which a transaction locks a customer, and what an erased customer answers.

Every transaction that writes something about a customer locks the customer's row first,
before any insert that references it, and in the strongest mode it will need:

- KEY SHARE (`exclusive=False`) to write an answer, an event or a task: writers of one
  customer never wait for each other, but an erasure (FOR UPDATE) waits for them, and they
  for it, after which they see the erasure and write nothing;
- NO KEY UPDATE (`exclusive=True`) to decide an invitation under the cooldown: deciders of
  one customer run one at a time, while inserts that only reference the row pass.

An insert's foreign-key check takes KEY SHARE on its own; asking for a stronger lock after
it is what deadlocked two interactions of one customer (each held KEY SHARE and wanted more).
"""

from uuid import UUID

import asyncpg

from feedback_svc.customers import queries
from feedback_svc.lib.errors import Gone, NotFound


def erased_detail(customer_id: UUID) -> str:
    return (
        f"Customer {customer_id} was erased and accepts nothing new. If this person is a customer "
        "again, create them anew with POST /v1/customers: the CRM's id is free."
    )


def erased(customer_id: UUID) -> Gone:
    """The same answer from every endpoint that is asked to do something for an erased customer."""
    return Gone(erased_detail(customer_id))


async def lock_for_write(
    conn: asyncpg.Connection, customer_id: UUID, *, exclusive: bool = False
) -> asyncpg.Record:
    """Lock a live customer for this transaction (see the module's docstring); 404 or 410 otherwise."""
    row = await queries.lock_customer(conn, customer_id, exclusive=exclusive)
    if row is None:
        raise NotFound(f"No customer with id {customer_id}; create it with POST /v1/customers first.")
    if row["erased_at"] is not None:
        raise erased(customer_id)
    return row
