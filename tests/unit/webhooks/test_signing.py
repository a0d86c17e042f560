"""The signing headers as the Standard Webhooks specification spells them."""

from feedback_svc.webhooks.signing import new_secret, signed_headers


def test_the_headers_are_named_exactly_as_the_standard_names_them() -> None:
    # HTTP says field names are case-insensitive, but not every receiver reads them that way:
    # behind AWS API Gateway's REST APIs, for one, a handler gets the names as they were sent and
    # looks them up as the specification writes them (`event["headers"]["webhook-id"]`)
    headers = signed_headers([new_secret()], message_id="msg_1", timestamp=1_700_000_000, body=b"{}")
    assert list(headers) == ["webhook-id", "webhook-timestamp", "webhook-signature"]
