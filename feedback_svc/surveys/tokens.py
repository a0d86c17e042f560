"""Survey tokens: 192 random bits in the link, only a SHA-256 hash in the database.

A hash, not a slow password hash: the token carries 192 bits of entropy, so
nobody can guess one, and every page view looks it up.
"""

import hashlib
import secrets

TOKEN_BYTES = 24


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def looks_like_token(token: str) -> bool:
    """Cheap shape check before touching the database (32 url-safe characters)."""
    return len(token) == 32 and all(c.isalnum() or c in "-_" for c in token)
