"""argon2id password hashes (argon2-cffi's RFC 9106 defaults), off the event loop.

Hashing takes tens of milliseconds of CPU by design; running it in a thread keeps
one login from stalling every other request on the process.
"""

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from feedback_svc.lib.errors import InvalidInput

MIN_LENGTH = 12
# argon2 hashes any length, but a megabyte password is a way to burn our CPU
MAX_LENGTH = 1024

_hasher = PasswordHasher()
# verified against when the email is unknown, so a miss costs what a wrong password costs
_DUMMY_HASH = _hasher.hash("no account has this password")


def check_password_rules(password: str, *, email: str = "") -> None:
    if len(password) < MIN_LENGTH:
        raise InvalidInput(f"Choose a password of at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        raise InvalidInput(f"Choose a password of at most {MAX_LENGTH} characters.")
    if email and password.strip().lower() == email.strip().lower():
        raise InvalidInput("The password must not be the email address.")


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def verify_password(password_hash: str | None, password: str) -> bool:
    """True when `password` matches; None (unknown account) spends the same time and is False."""
    if len(password) > MAX_LENGTH:
        return False
    matched = await asyncio.to_thread(_verify, password_hash or _DUMMY_HASH, password)
    return matched and password_hash is not None


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
