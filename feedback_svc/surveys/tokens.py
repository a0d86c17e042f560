"""Survey tokens: 192 unguessable bits in the link, only a SHA-256 hash in the database.

The token is derived from the invitation's random id with HMAC under the
service's secret key rather than drawn at random and kept: a retried send (after
a crash, or deduplicated by the SMS provider's idempotency key) must carry the
same working link, and a random token would have to be stored to be resent.
Derived, it exists only in the message. Without the secret key nobody can
compute one; rotating FEEDBACK_SECRET_KEY invalidates outstanding links.

A plain hash, not a slow password hash, because the token carries 192 bits.
"""

import base64
import hashlib
import hmac
from uuid import UUID

TOKEN_LENGTH = 32


def token_for(secret_key: str, invitation_id: UUID) -> str:
    digest = hmac.new(secret_key.encode(), b"survey-token:" + invitation_id.bytes, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode()


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def looks_like_token(token: str) -> bool:
    """Cheap shape check before touching the database (32 url-safe characters)."""
    return len(token) == TOKEN_LENGTH and all(c.isalnum() or c in "-_" for c in token)
