"""Twilio's webhook signature (X-Twilio-Signature), checked without Twilio's SDK.

The signature is base64(HMAC(secret, URL + name1 + value1 + name2 + value2 ...)) over the full
URL Twilio requested and the form parameters sorted by name (then by value for a repeated name,
each distinct pair once, as Twilio's own libraries do). The HMAC is SHA-1 with the account's
auth token, unless the request carries X-Twilio-Webhooks-Signature-Settings
(`key=<shared key id>,algorithm=HMAC_SHA256`): then it is the algorithm named there, with the
shared key's secret. An algorithm we do not know fails, as it does in Twilio's RequestValidator.
"""

import base64
import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import SplitResult, urlsplit

SIGNATURE_HEADER = "X-Twilio-Signature"
SIGNATURE_SETTINGS_HEADER = "X-Twilio-Webhooks-Signature-Settings"
HMAC_SHA1 = "HMAC_SHA1"
HMAC_SHA256 = "HMAC_SHA256"
_DIGESTS: dict[str, Callable[..., Any]] = {HMAC_SHA1: hashlib.sha1, HMAC_SHA256: hashlib.sha256}

_DEFAULT_PORTS = {"https": 443, "http": 80}


def signature_algorithm(settings_header: str | None) -> str:
    """The algorithm named in X-Twilio-Webhooks-Signature-Settings; HMAC_SHA1 without one."""
    for part in (settings_header or "").split(","):
        name, separator, value = part.partition("=")
        if separator and name.strip() == "algorithm" and value.strip():
            return value.strip().upper()
    return HMAC_SHA1


def verify_signature(
    *,
    url: str,
    params: Mapping[str, str] | list[tuple[str, str]],
    signature: str | None,
    auth_token: str,
    algorithm: str = HMAC_SHA1,
) -> bool:
    """Whether `signature` is Twilio's for this request.

    `params` is every form field received: the request's form multi-dict, or a list of pairs.
    `auth_token` is the secret it was signed with (the auth token, or a shared key's secret).
    """
    if not signature or not auth_token or algorithm not in _DIGESTS:
        return False
    given = signature.strip().encode()
    # Every variant is computed, so the time taken does not tell which one matched.
    matches = [
        hmac.compare_digest(compute_signature(candidate, params, auth_token, algorithm).encode(), given)
        for candidate in url_variants(url)
    ]
    return any(matches)


def compute_signature(
    url: str,
    params: Mapping[str, str] | list[tuple[str, str]],
    auth_token: str,
    algorithm: str = HMAC_SHA1,
) -> str:
    """The signature Twilio sends for a request to `url` carrying `params`."""
    pairs: Iterable[tuple[str, str]] = params.items() if isinstance(params, Mapping) else params
    payload = url + "".join(name + value for name, value in sorted(set(pairs)))
    digest = hmac.new(auth_token.encode(), payload.encode(), _DIGESTS[algorithm]).digest()
    return base64.b64encode(digest).decode()


def url_variants(url: str) -> list[str]:
    """The URL as given, without its port, and with the scheme's default port.

    Twilio's SDK checks the same three: its servers have signed https URLs with and without
    :443, and without a non-default port too. Every variant still needs the auth token.
    """
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:  # "host:abc": no variant to build, the URL itself can still match
        return [url]
    variants = [url, _with_port(parts, None)]
    default = _DEFAULT_PORTS.get(parts.scheme)
    if port is None and default is not None:
        variants.append(_with_port(parts, default))
    return list(dict.fromkeys(variants))


def _with_port(parts: SplitResult, port: int | None) -> str:
    # netloc is rebuilt by hand because SplitResult has no port setter; userinfo and
    # IPv6 brackets are kept as they were.
    userinfo, _, hostport = parts.netloc.rpartition("@")
    host = hostport if parts.port is None else hostport[: hostport.rfind(":")]
    netloc = (userinfo + "@" if userinfo else "") + host + ("" if port is None else f":{port}")
    return parts._replace(netloc=netloc).geturl()
