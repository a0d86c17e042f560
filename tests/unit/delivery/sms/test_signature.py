"""Signatures made by Twilio's own SDK must validate with our implementation, and nothing else may."""

import pytest
from litestar.datastructures import FormMultiDict
from multidict import MultiDict
from twilio.request_validator import RequestValidator, get_signature_algorithm

from feedback_svc.delivery.sms.signature import (
    compute_signature,
    signature_algorithm,
    url_variants,
    verify_signature,
)

TOKEN = "12345678901234567890123456789012"
URL = "https://feedback.example.com/v1/inbound/sms"
PARAMS = {
    "MessageSid": "SM0123456789abcdef0123456789abcdef",
    "AccountSid": "AC0123456789abcdef0123456789abcdef",
    "From": "+4915112345678",
    "To": "+4930123456",
    "Body": "9 Grüße, great service 👍",
    "NumMedia": "0",
}


def twilio_signature(url: str, params: object, token: str = TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, params)


def test_a_signature_made_by_twilio_validates() -> None:
    signature = twilio_signature(URL, PARAMS)
    assert verify_signature(url=URL, params=PARAMS, signature=signature, auth_token=TOKEN)
    assert RequestValidator(TOKEN).validate(URL, PARAMS, signature)


def test_our_signature_is_the_one_twilio_computes() -> None:
    assert compute_signature(URL, PARAMS, TOKEN) == twilio_signature(URL, PARAMS)


def test_the_params_order_does_not_matter() -> None:
    signature = twilio_signature(URL, PARAMS)
    reversed_pairs = list(reversed(PARAMS.items()))
    assert verify_signature(url=URL, params=reversed_pairs, signature=signature, auth_token=TOKEN)


def test_a_request_without_params_signs_the_url_alone() -> None:
    signature = twilio_signature(URL, {})
    assert verify_signature(url=URL, params={}, signature=signature, auth_token=TOKEN)
    assert not verify_signature(url=URL, params={"Body": ""}, signature=signature, auth_token=TOKEN)


def test_repeated_params_are_all_signed() -> None:
    pairs = [*PARAMS.items(), ("MediaUrl0", "https://m/b"), ("Tag", "b"), ("Tag", "a")]
    signature = twilio_signature(URL, MultiDict(pairs))
    assert verify_signature(url=URL, params=pairs, signature=signature, auth_token=TOKEN)
    # the form as Litestar hands it to a route, repeated names and all
    assert verify_signature(url=URL, params=FormMultiDict(pairs), signature=signature, auth_token=TOKEN)
    dropped = [pair for pair in pairs if pair != ("Tag", "a")]
    assert not verify_signature(url=URL, params=dropped, signature=signature, auth_token=TOKEN)


def test_an_identical_repeated_pair_is_signed_once_as_twilio_does() -> None:
    pairs = [*PARAMS.items(), ("Tag", "a"), ("Tag", "a")]
    signature = twilio_signature(URL, MultiDict(pairs))
    assert verify_signature(url=URL, params=pairs, signature=signature, auth_token=TOKEN)


@pytest.mark.parametrize(
    ("signed_url", "our_url"),
    [
        ("https://feedback.example.com:443/v1/inbound/sms", URL),
        (URL, "https://feedback.example.com:443/v1/inbound/sms"),
        ("http://feedback.example.com:80/v1/inbound/sms", "http://feedback.example.com/v1/inbound/sms"),
        (
            "https://feedback.example.com:8443/v1/inbound/sms",
            "https://feedback.example.com:8443/v1/inbound/sms",
        ),
        # Twilio has signed https URLs without any port, so its SDK drops even a non-default one
        (URL, "https://feedback.example.com:8443/v1/inbound/sms"),
        (
            "https://feedback.example.com/v1/inbound/sms?tenant=a",
            "https://feedback.example.com/v1/inbound/sms?tenant=a",
        ),
        ("https://[2001:db8::1]:443/v1/inbound/sms", "https://[2001:db8::1]/v1/inbound/sms"),
    ],
)
def test_the_url_variants_twilio_documents_validate(signed_url: str, our_url: str) -> None:
    signature = twilio_signature(signed_url, PARAMS)
    assert verify_signature(url=our_url, params=PARAMS, signature=signature, auth_token=TOKEN)
    # the SDK agrees, so we are neither stricter nor looser than Twilio
    assert RequestValidator(TOKEN).validate(our_url, PARAMS, signature)


def test_url_variants() -> None:
    assert url_variants("https://a.example/x?y=1") == [
        "https://a.example/x?y=1",
        "https://a.example:443/x?y=1",
    ]
    assert url_variants("https://a.example:8443/x") == ["https://a.example:8443/x", "https://a.example/x"]
    assert url_variants("https://user:pw@a.example:443/x") == [
        "https://user:pw@a.example:443/x",
        "https://user:pw@a.example/x",
    ]


@pytest.mark.parametrize(
    "params",
    [
        {**PARAMS, "Body": "0 terrible"},
        {**PARAMS, "From": "+4915199999999"},
        {**PARAMS, "Extra": "1"},
        {key: value for key, value in PARAMS.items() if key != "NumMedia"},
    ],
)
def test_a_tampered_param_fails(params: dict[str, str]) -> None:
    signature = twilio_signature(URL, PARAMS)
    assert not verify_signature(url=URL, params=params, signature=signature, auth_token=TOKEN)


@pytest.mark.parametrize(
    "url",
    [
        "https://feedback.example.com/v1/inbound/sms/",
        "https://feedback.example.com/v1/inbound/email",
        "https://attacker.example.com/v1/inbound/sms",
        "http://feedback.example.com/v1/inbound/sms",
        "https://feedback.example.com:8443/v1/inbound/sms/",
        "https://feedback.example.com/v1/inbound/sms?tenant=b",
    ],
)
def test_a_different_url_fails(url: str) -> None:
    signature = twilio_signature(URL, PARAMS)
    assert not verify_signature(url=url, params=PARAMS, signature=signature, auth_token=TOKEN)


@pytest.mark.parametrize("signature", [None, "", "   ", "not-base64", "Zm9v", "sïgnature"])
def test_a_missing_or_malformed_signature_fails(signature: str | None) -> None:
    assert not verify_signature(url=URL, params=PARAMS, signature=signature, auth_token=TOKEN)


def test_a_wrong_token_fails() -> None:
    signature = twilio_signature(URL, PARAMS, token="another-accounts-token-0123456789")
    assert not verify_signature(url=URL, params=PARAMS, signature=signature, auth_token=TOKEN)


def test_an_unset_token_accepts_nothing() -> None:
    # anyone can compute an HMAC under the empty key, so it must not count as a secret
    signature = twilio_signature(URL, PARAMS, token="")
    assert not verify_signature(url=URL, params=PARAMS, signature=signature, auth_token="")


@pytest.mark.parametrize("algorithm", ["HMAC_SHA1", "HMAC_SHA256"])
def test_both_algorithms_twilio_signs_with_validate_and_match_its_own(algorithm: str) -> None:
    signature = RequestValidator(TOKEN).compute_signature(URL, PARAMS, algorithm=algorithm)
    assert compute_signature(URL, PARAMS, TOKEN, algorithm) == signature
    assert verify_signature(
        url=URL, params=PARAMS, signature=signature, auth_token=TOKEN, algorithm=algorithm
    )
    # the URL with its default port, as Twilio's servers sometimes sign it
    with_port = RequestValidator(TOKEN).compute_signature(
        "https://feedback.example.com:443/v1/inbound/sms", PARAMS, algorithm=algorithm
    )
    assert verify_signature(
        url=URL, params=PARAMS, signature=with_port, auth_token=TOKEN, algorithm=algorithm
    )


def test_a_signature_is_only_good_under_its_own_algorithm() -> None:
    sha256 = RequestValidator(TOKEN).compute_signature(URL, PARAMS, algorithm="HMAC_SHA256")
    sha1 = RequestValidator(TOKEN).compute_signature(URL, PARAMS)
    assert not verify_signature(url=URL, params=PARAMS, signature=sha256, auth_token=TOKEN)
    assert not verify_signature(
        url=URL, params=PARAMS, signature=sha1, auth_token=TOKEN, algorithm="HMAC_SHA256"
    )
    tampered = {**PARAMS, "Body": "0"}
    assert not verify_signature(
        url=URL, params=tampered, signature=sha256, auth_token=TOKEN, algorithm="HMAC_SHA256"
    )


@pytest.mark.parametrize(
    ("header", "algorithm"),
    [
        (None, "HMAC_SHA1"),
        ("", "HMAC_SHA1"),
        ("key=webhooks_sharedkey_123", "HMAC_SHA1"),
        ("key=webhooks_sharedkey_123,algorithm=HMAC_SHA256", "HMAC_SHA256"),
        ("algorithm=hmac_sha256, key=k", "HMAC_SHA256"),
        ("key=k,algorithm=HMAC_SHA512", "HMAC_SHA512"),
    ],
)
def test_the_settings_header_names_the_algorithm_as_twilio_reads_it(
    header: str | None, algorithm: str
) -> None:

    assert signature_algorithm(header) == algorithm
    assert get_signature_algorithm(header).upper() == algorithm


def test_an_algorithm_we_do_not_know_never_validates() -> None:
    for signature in ("", "x", RequestValidator(TOKEN).compute_signature(URL, PARAMS)):
        assert not verify_signature(
            url=URL, params=PARAMS, signature=signature, auth_token=TOKEN, algorithm="HMAC_SHA512"
        )
