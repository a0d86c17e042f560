"""Header hygiene for outgoing mail: one-line values, URLs that survive folding."""

import re
import unicodedata
from email.headerregistry import BaseHeader, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.policy import EmailPolicy
from typing import Any
from urllib.parse import urlsplit

_MAX_URL_LENGTH = 900  # a header line must stay under 998 octets, name included
_MESSAGE_ID = re.compile(r"<[\x21-\x3b\x3d\x3f-\x7e]+@[\x21-\x3b\x3d\x3f-\x7e]+>")
_LOCALE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*")
_RTL_LANGUAGES = frozenset({"ar", "fa", "he", "ps", "ur", "yi"})


class _VerbatimHeader(UnstructuredHeader, BaseHeader):
    # The stock folder RFC 2047-encodes any unstructured value longer than 78 characters
    # without a space, turning `<https://...>` into `=?utf-8?q?...?=` that no mail client
    # reads as a URL. Values given to this class are checked ASCII and single-line first.
    def fold(self, *, policy: Any) -> str:
        return f"{self.name}: {self}{policy.linesep}"


def _make_policy() -> "EmailPolicy[EmailMessage]":
    # A registry of our own: email.policy.SMTP and .default share one, which must stay stock.
    registry = HeaderRegistry()
    for name in ("list-unsubscribe", "list-unsubscribe-post", "feedback-id"):
        registry.map_to_type(name, _VerbatimHeader)
    return EmailPolicy(linesep="\r\n", header_factory=registry)


POLICY = _make_policy()


def one_line(value: str) -> str:
    """Fold every run of whitespace (CR and LF included) into one space, drop control characters."""
    folded = " ".join(value.split())
    return "".join(char for char in folded if unicodedata.category(char) != "Cc")


def check_url(url: str, *, name: str) -> str:
    """An absolute http(s) URL that can be put in a header and an href as it is."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{name} must be an absolute http(s) URL, got {url!r}")
    if not url.isascii() or any(char.isspace() or ord(char) < 0x20 for char in url):
        raise ValueError(f"{name} must be ASCII without spaces (percent-encode it), got {url!r}")
    if len(url) > _MAX_URL_LENGTH:
        raise ValueError(f"{name} is longer than {_MAX_URL_LENGTH} characters")
    return url


def check_message_id(message_id: str) -> str:
    if not _MESSAGE_ID.fullmatch(message_id):
        raise ValueError(f"message_id must look like <unique@domain>, got {message_id!r}")
    return message_id


def check_locale(locale: str) -> str:
    if not _LOCALE.fullmatch(locale):
        raise ValueError(f"locale must be a BCP 47 tag such as en, de or pt-BR, got {locale!r}")
    return locale


def text_direction(locale: str) -> str:
    return "rtl" if locale.split("-", maxsplit=1)[0].lower() in _RTL_LANGUAGES else "ltr"
