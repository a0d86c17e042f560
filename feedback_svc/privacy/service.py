"""Forget a customer completely, or hand over everything held about them.

Erasure keeps what anonymous statistics need (scores, times, touchpoints, outcomes) and
removes everything that identifies or quotes the person: contact details (the earlier ones
too, which the contact history keeps for this purpose), the CRM's id,
attributes, free-text comments, notes, closing messages, SMS conversations, survey tokens, queued messages
and webhook payloads, and stored idempotent replies. Opt-outs stay, as hashes, so the
address is never contacted again. It all happens in one transaction, which also writes
the `customer.erased` event for the CRM and an audit entry. Afterwards the customer accepts
nothing new: every endpoint answers 410 Gone for it.
"""

from datetime import datetime
from pathlib import Path
from uuid import UUID

import asyncpg

from feedback_svc.audit.actions import record as record_audit
from feedback_svc.customers.locks import erased
from feedback_svc.db.sql import load_queries
from feedback_svc.lib.errors import NotFound
from feedback_svc.outbox.events import emit_event
from feedback_svc.privacy.schemas import CustomerExport, Erasure
from feedback_svc.themes.queries import erase_assignments as erase_theme_assignments

Q = load_queries(Path(__file__).with_name("queries.sql"))

ERASED_EVENT = "customer.erased"


async def erase_customer(
    conn: asyncpg.Connection, customer_id: UUID, *, actor_id: str, request_id: str | None, now: datetime
) -> Erasure:
    """Erase in one transaction (a savepoint in the caller's, which stores the idempotent reply).

    Locks in the order every other writer takes them (customers/locks.py): the customer's SMS
    numbers first, as the SMS worker does, then the customer's row."""
    async with conn.transaction():
        phones = await conn.fetchval(Q["customer_phones"], customer_id) or []
        await conn.fetchval(Q["lock_phones"], phones)
        customer = await conn.fetchrow(Q["lock_customer"], customer_id)
        if customer is None:
            raise NotFound(f"No customer with id {customer_id}.")
        if customer["erased_at"] is not None:
            raise erased(customer_id)
        found = await conn.fetchrow(Q["identifiers"], customer_id)
        # a number added between the first read and the row lock (rare): locked now, late but held
        await conn.fetchval(Q["lock_phones"], sorted(set(found["phones"]) - set(phones)))
        emails, names = found["emails"], found["names"]
        phones, until, still_theirs = found["phones"], found["phones_until"], found["phones_still_theirs"]

        await conn.execute(Q["drop_doubled_suppressions"], customer_id, emails, phones)
        await conn.execute(Q["hash_suppressions"], customer_id, emails, phones)
        await conn.execute(Q["erase_sms"], customer_id, phones, until)
        await conn.execute(Q["erase_background_work"], str(customer_id), emails, still_theirs)
        await conn.execute(Q["erase_stored_replies"], str(customer_id), emails, still_theirs)
        await conn.execute(Q["erase_audit_details"], [*emails, *(n.lower() for n in names)], still_theirs)
        await conn.execute(Q["erase_recovery"], customer_id, now)
        # what a theme run made of the comments goes with them (examples quote the blanked text)
        await erase_theme_assignments(conn, customer_id)
        await conn.execute(Q["erase_follow_ups"], customer_id, now)
        await conn.execute(Q["erase_answers"], customer_id, now)
        await conn.execute(Q["erase_invitations"], customer_id, now)
        await conn.execute(Q["erase_invitation_history"], customer_id)
        await conn.execute(Q["erase_interactions"], customer_id)
        await conn.execute(Q["erase_customer_events"], customer_id)
        await conn.execute(Q["erase_customer"], customer_id, now)
        await conn.execute(Q["erase_contact_history"], customer_id)

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
    return Erasure(customer_id=customer_id, erased_at=now)


async def export_customer(pool: asyncpg.Pool, customer_id: UUID, *, now: datetime) -> CustomerExport:
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        state = await conn.fetchval(Q["customer_state"], customer_id)
        if state is None:
            raise NotFound(f"No customer with id {customer_id}.")
        if state:
            raise erased(customer_id)
        found = await conn.fetchrow(Q["identifiers"], customer_id)
        document = await conn.fetchval(
            Q["export_customer"], customer_id, found["emails"], found["phones"], found["phones_until"]
        )
    return CustomerExport(customer_id=customer_id, exported_at=now, data=document)
