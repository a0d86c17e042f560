from pathlib import Path

import pytest

from feedback_svc.settings import ENV_NAMES, Settings, SettingsError


def test_defaults_need_nothing_from_the_environment() -> None:
    settings = Settings.from_env({})
    assert settings.database_url is None
    assert settings.uses_embedded_database
    assert settings.port == 8000
    assert settings.base_url == "http://localhost:8000"


def test_values_are_parsed_to_their_types() -> None:
    settings = Settings.from_env(
        {
            "FEEDBACK_PORT": "9001",
            "FEEDBACK_MIGRATE_ON_START": "false",
            "FEEDBACK_DATA_DIR": "/srv/feedback",
            "FEEDBACK_PUBLIC_BASE_URL": "https://feedback.example.com/",
        }
    )
    assert settings.port == 9001
    assert settings.migrate_on_start is False
    assert settings.data_dir == Path("/srv/feedback")
    assert settings.base_url == "https://feedback.example.com"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"FEEDBACK_PORT": "eighty"}, "FEEDBACK_PORT"),
        ({"FEEDBACK_PORT": "70000"}, "FEEDBACK_PORT"),
        ({"FEEDBACK_LOG_LEVEL": "LOUD"}, "FEEDBACK_LOG_LEVEL"),
        ({"DATABASE_URL": "mysql://x/y"}, "DATABASE_URL"),
        ({"DATABASE_URL": "postgresql://db/feedback"}, "FEEDBACK_SECRET_KEY"),
        ({"FEEDBACK_SECRET_KEY": "short"}, "FEEDBACK_SECRET_KEY"),
        ({"FEEDBACK_PUBLIC_BASE_URL": "feedback.example.com"}, "FEEDBACK_PUBLIC_BASE_URL"),
        ({"FEEDBACK_REMINDER_COUNT": "4"}, "FEEDBACK_REMINDER_COUNT"),
        ({"FEEDBACK_REMINDER_DELAY_HOURS": "0.5"}, "FEEDBACK_REMINDER_DELAY_HOURS"),
    ],
)
def test_bad_values_stop_start_up_naming_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        Settings.from_env(env)


def test_one_reminder_after_three_days_unless_set_otherwise() -> None:
    assert (Settings().reminder_count, Settings().reminder_delay_hours) == (1, 72.0)
    settings = Settings.from_env({"FEEDBACK_REMINDER_COUNT": "0", "FEEDBACK_REMINDER_DELAY_HOURS": "36"})
    assert (settings.reminder_count, settings.reminder_delay_hours) == (0, 36.0)


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(AttributeError):
        settings.port = 1  # type: ignore[misc]


def test_every_field_has_an_environment_variable() -> None:
    assert set(ENV_NAMES) == set(Settings.__struct_fields__)
    assert ENV_NAMES["database_url"] == "DATABASE_URL"
    assert ENV_NAMES["smtp_host"] == "FEEDBACK_SMTP_HOST"


def test_local_secret_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path).with_secret()
    second = Settings(data_dir=tmp_path).with_secret()
    assert first.secret_key == second.secret_key
    assert first.secret_key is not None
    assert len(first.secret_key) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_a_pattern_in_a_setting_means_what_it_says_without_a_trailing_newline() -> None:
    """msgspec's patterns are Python searches, where `$` matches before a final newline."""
    assert Settings.from_env({"FEEDBACK_CURRENCY": "EUR"}).currency == "EUR"
    with pytest.raises(SettingsError, match="FEEDBACK_CURRENCY"):
        Settings.from_env({"FEEDBACK_CURRENCY": "EUR\n"})
