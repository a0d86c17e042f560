"""Forget a customer completely, or hand over everything held about them.

Erasure keeps what anonymous statistics need (scores, times, touchpoints, outcomes) and
removes everything that identifies or quotes the person: contact details, the CRM's id,
attributes, free-text comments, notes, SMS conversations, survey tokens, queued messages
and webhook payloads, and stored idempotent replies. Opt-outs stay, as hashes, so the
address is never contacted again. It all happens in one transaction, which also writes
the `customer.erased` event for the CRM and an audit entry.
"""

from datetime import datetime
from pathlib import Path
from uuid import UUID

import asyncpg

from feedback_svc.audit.service import record as record_audit
from feedback_svc.db.sql import load_queries
from feedback_svc.lib.errors import NotFound
from feedback_svc.outbox.events import emit_event
from feedback_svc.privacy.schemas import CustomerExport, Erasure

Q = load_queries(Path(__file__).with_name("queries.sql"))

ERASED_EVENT = "customer.erased"


async def erase_customer(
    conn: asyncpg.Connection, customer_id: UUID, *, actor_id: str, request_id: str | None, now: datetime
) -> Erasure:
    """Erase in one transaction (a savepoint in the caller's, which stores the idempotent reply)."""
    async with conn.transaction():
        customer = await conn.fetchrow(Q["lock_customer"], customer_id)
        if customer is None:
            raise NotFound(f"No customer with id {customer_id}.")
        if customer["erased_at"] is not None:
            return Erasure(customer_id=customer_id, erased_at=customer["erased_at"], erased_now=False)
        email, phone = customer["email"], customer["phone"]

        await conn.execute(Q["drop_doubled_suppressions"], customer_id, email, phone)
        await conn.execute(Q["hash_suppressions"], customer_id, email, phone)
        await conn.execute(Q["erase_sms"], customer_id, phone)
        await conn.execute(Q["erase_background_work"], str(customer_id), email, phone)
        await conn.execute(Q["erase_stored_replies"], str(customer_id), email, phone)
        await conn.execute(Q["erase_audit_details"], email, phone)
        await conn.execute(Q["erase_recovery"], customer_id, now)
        await conn.execute(Q["erase_answers"], customer_id, now)
        await conn.execute(Q["erase_invitations"], customer_id, now)
        await conn.execute(Q["erase_interactions"], customer_id)
        await conn.execute(Q["erase_customer_events"], customer_id)
        await conn.execute(Q["erase_customer"], customer_id, now)

        # written after the clean-up above, so this event is the one thing left to send
        await emit_event(
            conn,
            type=ERASED_EVENT,
            data={"customer_id": str(customer_id), "erased_at": now.isoformat()},
            ordering_key=str(customer_id),
            dedupe_key=f"{ERASED_EVENT}:{customer_id}",
        )
        await record_audit(
            conn,
            actor_type="api_key",
            actor_id=actor_id,
            action="customer.erase",
            target_type="customer",
            target_id=str(customer_id),
            request_id=request_id,
        )
    return Erasure(customer_id=customer_id, erased_at=now, erased_now=True)


async def export_customer(pool: asyncpg.Pool, customer_id: UUID, *, now: datetime) -> CustomerExport:
    document = await pool.fetchval(Q["export_customer"], customer_id)
    if document is None or document.get("customer") is None:
        raise NotFound(f"No customer with id {customer_id}.")
    return CustomerExport(customer_id=customer_id, exported_at=now, data=document)
