from datetime import UTC, datetime, timedelta

from feedback_svc.surveys.rules import Contact, choose_channel, decide, quiet_hours_end

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
BOTH = Contact(email="a@example.com", phone="+4915112345678", time_zone="Europe/Berlin")


def decision(contact: Contact = BOTH, **overrides: object):  # type: ignore[no-untyped-def]
    args: dict[str, object] = {
        "contact": contact,
        "preference": None,
        "opted_out": frozenset(),
        "last_invited_at": None,
        "cooldown": timedelta(days=30),
        "earliest": NOW,
        "now": NOW,
    }
    args.update(overrides)
    return decide(**args)  # type: ignore[arg-type]


def test_email_is_the_default_channel_and_goes_out_now() -> None:
    result = decision()
    assert (result.status, result.channel, result.send_at) == ("queued", "email", NOW)


def test_a_delay_schedules_the_invitation() -> None:
    result = decision(earliest=NOW + timedelta(hours=2))
    assert result.status == "scheduled"
    assert result.send_at == NOW + timedelta(hours=2)


def test_cooldown_suppresses_and_says_when() -> None:
    result = decision(last_invited_at=NOW - timedelta(days=3))
    assert result.status == "suppressed"
    assert "cooldown" in result.reason
    assert "2026-11-20" in result.reason


def test_cooldown_over_lets_the_invitation_through() -> None:
    assert decision(last_invited_at=NOW - timedelta(days=31)).status == "queued"


def test_opted_out_of_email_falls_back_to_sms_and_says_why() -> None:
    result = decision(preference="email", opted_out=frozenset({"email"}))
    assert result.channel == "sms"
    assert "opted out of email" in result.reason


def test_opted_out_everywhere_is_suppressed() -> None:
    result = decision(opted_out=frozenset({"email", "sms"}))
    assert result.status == "suppressed"
    assert "opted out of email" in result.reason
    assert "opted out of sms" in result.reason


def test_no_contact_detail_is_suppressed() -> None:
    result = decision(Contact(email=None, phone=None, time_zone="UTC"))
    assert result.status == "suppressed"
    assert "no email address" in result.reason
    assert "no phone number" in result.reason


def test_web_needs_no_contact_detail() -> None:
    result = decision(Contact(email=None, phone=None, time_zone="UTC"), preference="web")
    assert (result.status, result.channel) == ("sent", "web")


def test_sms_in_quiet_hours_is_deferred_to_the_morning_in_the_customers_zone() -> None:
    late = datetime(2026, 11, 23, 22, 30, tzinfo=UTC)  # 23:30 in Berlin
    result = decision(preference="sms", earliest=late, now=late)
    assert result.status == "scheduled"
    assert result.send_at == datetime(2026, 11, 24, 8, 0, tzinfo=UTC)  # 09:00 Berlin
    assert "quiet hours" in result.reason


def test_email_ignores_quiet_hours() -> None:
    late = datetime(2026, 11, 23, 22, 30, tzinfo=UTC)
    assert decision(preference="email", earliest=late, now=late).status == "queued"


def test_quiet_hours_use_local_time() -> None:
    # 07:00 UTC is 23:00 the day before in Los Angeles: quiet until 09:00 there
    moment = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
    end = quiet_hours_end(moment, "America/Los_Angeles")
    assert end is not None
    assert end.astimezone(UTC) == datetime(2026, 11, 23, 17, 0, tzinfo=UTC)
    assert quiet_hours_end(datetime(2026, 11, 23, 12, 0, tzinfo=UTC), "Europe/Berlin") is None


def test_erased_customer_is_never_invited() -> None:
    erased = Contact(email="a@example.com", phone=None, time_zone="UTC", erased=True)
    assert decision(erased).status == "suppressed"


def test_choose_channel_respects_preference() -> None:
    assert choose_channel(BOTH, "sms", frozenset()) == ("sms", "")


def test_a_pulse_skips_the_cooldown_and_nothing_else() -> None:
    """The documented exception: a pulse after a recovery comes soon after the answer that opened it."""
    recent = NOW - timedelta(days=3)
    pulse = decision(last_invited_at=recent, purpose="pulse")
    assert (pulse.status, pulse.channel) == ("queued", "email")
    assert decision(last_invited_at=recent).status == "suppressed"  # an ordinary survey still waits
    opted_out = decision(last_invited_at=recent, purpose="pulse", opted_out=frozenset({"email", "sms"}))
    assert opted_out.status == "suppressed"
    assert "opted out of email" in opted_out.reason
    erased = decision(contact=Contact(email="a@example.com", phone=None, time_zone="UTC", erased=True),
                      purpose="pulse")  # fmt: skip
    assert erased.reason == "suppressed: customer erased"
    # 23:00 in Berlin: an SMS pulse waits for the morning like any SMS
    night = datetime(2026, 11, 23, 22, 0, tzinfo=UTC)
    by_sms = decision(preference="sms", purpose="pulse", now=night, earliest=night, last_invited_at=recent)
    assert by_sms.status == "scheduled"
    assert "quiet hours" in by_sms.reason
