"""argon2id password hashes (argon2-cffi's RFC 9106 defaults), off the event loop, and the
rules a new password must meet.

Hashing takes tens of milliseconds of CPU by design; running it in a thread keeps
one login from stalling every other request on the process.

A new password must not be a common one nor easy to guess: zxcvbn (Dropbox's estimator, with
its list of the 30,000 most common passwords, keyboard walks, dates, l33t and repeats) must
rate it "safely unguessable" (3 of 4, about 10^8 guesses or more), which with argon2 on top
withstands an offline attack on a stolen table for a long time. Length alone does not:
"password1234" has twelve characters.
"""

import asyncio
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from feedback_svc.lib.errors import InvalidInput

MIN_LENGTH = 12
# argon2 hashes any length, but a megabyte password is a way to burn our CPU
MAX_LENGTH = 1024
MIN_STRENGTH = 3
# zxcvbn refuses longer input (its matching is quadratic); a long password is judged by its
# start, so "aaaa..." stays weak however long it is
ESTIMATED_LENGTH = 72

_hasher = PasswordHasher()
# verified against when the email is unknown, so a miss costs what a wrong password costs
_DUMMY_HASH = _hasher.hash("no account has this password")


@cache
def common_passwords() -> frozenset[str]:
    """zxcvbn's list, loaded on the first new password: its dictionaries hold about 16 MiB,
    which every serving process would otherwise carry for a page few of them ever serve."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def check_password_rules(password: str, *, email: str = "", name: str = "") -> None:
    """Refuse a password that is too short or long, common, or easy to guess; say why."""
    if len(password) < MIN_LENGTH:
        raise InvalidInput(f"Choose a password of at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        raise InvalidInput(f"Choose a password of at most {MAX_LENGTH} characters.")
    if email and password.strip().lower() == email.strip().lower():
        raise InvalidInput("The password must not be the email address.")
    if password.strip().lower() in common_passwords():
        raise InvalidInput("This password is on a list of common passwords; choose another one.")
    about_the_person = [
        part for part in (email, email.partition("@")[0], name, "".join(name.split()), *name.split()) if part
    ]
    import zxcvbn  # see common_passwords()

    estimate = zxcvbn.zxcvbn(password[:ESTIMATED_LENGTH], user_inputs=about_the_person)
    if estimate["score"] < MIN_STRENGTH:
        feedback = estimate["feedback"]
        sentences = [
            "This password is too easy to guess.",
            *(part for part in (feedback["warning"], *feedback["suggestions"]) if part),
            "A few unrelated words, or a password from a password manager, work well.",
        ]
        raise InvalidInput(" ".join(sentences))


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
