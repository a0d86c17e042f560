"""Typed, frozen settings read from a mapping (normally `os.environ`).

Tests build `Settings(...)` directly; only `Settings.from_env` reads variables.
A missing or malformed value stops start-up with the variable's name in the message.
"""

import base64
import binascii
import ipaddress
import secrets
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
import platformdirs
from msgspec import Meta

from feedback_svc.lib.checks import Refused, checker_for

Port = Annotated[int, Meta(ge=1, le=65535)]
PositiveInt = Annotated[int, Meta(ge=1)]
NonNegativeFloat = Annotated[float, Meta(ge=0)]


DEFAULT_BRAND = "Customer feedback"


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    # Database: with no URL an embedded PostgreSQL is started in data_dir.
    database_url: str | None = None
    data_dir: Path = Path(platformdirs.user_data_dir("feedback-svc"))
    migrate_on_start: bool = True
    db_pool_min: Annotated[int, Meta(ge=0)] = 2
    db_pool_max: PositiveInt = 10
    # scoring's own sessions, tuned for the feature query (db/pool.py create_feature_pool);
    # the score batcher works on as many chunks at once (scoring/batcher.py)
    db_scoring_pool_max: PositiveInt = 4
    db_connect_timeout: NonNegativeFloat = 10.0

    # HTTP
    host: str = "127.0.0.1"
    port: Port = 8000
    workers: PositiveInt = 1
    public_base_url: str | None = None
    # Load balancers or reverse proxies (comma-separated addresses or CIDR networks) whose
    # X-Forwarded-For / X-Forwarded-Proto are believed. Empty: nobody's, so a client cannot
    # pick its own address, and with it a fresh rate-limit bucket.
    trusted_proxies: str = ""

    # Secrets: signs tokens and sessions. Required when DATABASE_URL is set (a
    # deployment); generated once and kept in data_dir for the embedded default.
    secret_key: str | None = None
    api_key_cache_seconds: NonNegativeFloat = 5.0

    # Rate limits per minute, shared by every replica (0 turns one off): per API key, and per
    # client address on the public token pages (/s/..., /u/...), where a person needs a handful.
    rate_limit_api_per_minute: Annotated[int, Meta(ge=0)] = 6000
    rate_limit_public_per_minute: Annotated[int, Meta(ge=0)] = 120

    # Background work: drain the outbox (send invitations, process inbound SMS) in
    # each API process; or run `feedback-svc worker` processes and set this false
    run_workers: bool = True
    # How long a claimed outbox job stays with its worker: after a crash, the wait before
    # another worker takes the job over. Keep it above the longest job (a model training).
    outbox_lease_seconds: Annotated[float, Meta(ge=10)] = 300.0
    brand_name: str = DEFAULT_BRAND

    # Reminders for unanswered invitations, where a touchpoint's rule does not say (its
    # reminder_count / reminder_delay are NULL) or there is no rule: how many, and how long
    # after the invitation (then after each reminder) each goes. 0 turns them off.
    reminder_count: Annotated[int, Meta(ge=0, le=3)] = 1
    reminder_delay_hours: Annotated[float, Meta(ge=1, le=24 * 30)] = 72.0

    # Scoring: which scores are "at risk" and emit `customer.at_risk` (the recovery queue's
    # proactive trigger), docs/scheduled-scoring.md. Unset, the active model's card decides: its
    # `critical` band (churn probability at or over the band's lower edge); with a minimum value
    # at risk, value x churn probability at or over it; a threshold overrides both. Replicas look
    # for a newly activated model at most every model_refresh_seconds.
    at_risk_threshold: Annotated[float, Meta(ge=0, le=1)] | None = None
    proactive_min_value_at_risk: NonNegativeFloat | None = None
    model_refresh_seconds: NonNegativeFloat = 5.0
    # Scheduled scoring: every active customer is scored this often (0: never on a schedule; a
    # run can still be asked for), a range of this many customers at a time; proactive tasks
    # opened per UTC day by every path together, the highest value at risk first
    scoring_schedule_hours: Annotated[float, Meta(ge=0, le=24 * 366)] = 24.0
    scoring_batch_size: Annotated[int, Meta(ge=1, le=5000)] = 500
    proactive_tasks_per_day: Annotated[int, Meta(ge=0)] = 20
    # What churn means for this business (docs/churn-labels.md): `contractual`, a `churned`
    # event within the horizon after a cut-off; `non_contractual`, no purchase within it. The
    # horizon is the default of a training run (a run may ask for another).
    churn_labels: Literal["contractual", "non_contractual"] = "contractual"
    churn_horizon_days: Annotated[int, Meta(ge=7, le=730)] = 90

    # Amounts: the currency every event value is in (ISO 4217). When set, an event in another
    # currency is refused (convert it first) and one without a currency is taken to be in it.
    currency: Annotated[str, Meta(pattern=r"^[A-Z]{3}$")] | None = None

    # Console (the recovery team's pages): session lifetime; after failed logins an account is
    # locked for the lock-out time, and a client address that fails this often across any
    # accounts is refused for the rest of a window of that length (shared by every replica)
    console_session_hours: Annotated[float, Meta(gt=0, le=24 * 30)] = 12.0
    console_max_failed_logins: PositiveInt = 5
    console_max_failed_logins_per_client: PositiveInt = 20
    console_lockout_minutes: Annotated[float, Meta(gt=0)] = 15.0

    # Logging
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "console"] = "json"

    # Email over SMTP
    smtp_host: str | None = None
    smtp_port: Port = 587
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    mail_from: str = "feedback@localhost"

    # SMS through a provider API shaped like Twilio's Messages API
    sms_base_url: str = "https://api.twilio.com"
    sms_account_sid: str | None = None
    sms_auth_token: str | None = None
    sms_from: str | None = None
    # the secret of the provider's webhook signing key, for webhooks signed with HMAC-SHA256
    # (X-Twilio-Webhooks-Signature-Settings); the auth token when unset
    sms_webhook_signing_key: str | None = None

    # CRM webhooks: targets on loopback, private, link-local or reserved addresses are refused
    # unless allowed (for a CRM inside the same network); each POST waits at most the timeout
    webhooks_allow_private: bool = False
    webhooks_timeout_seconds: Annotated[float, Meta(gt=0, le=60)] = 10.0

    # Recovery queue: an at-risk score opens a proactive task within the daily limit; when the
    # threshold is set, only one whose churn probability is at or over it too; with no score yet a
    # customer's churn probability is taken as the prior; customers worth at least high_value get
    # the high-value deadline; control_share of eligible tasks (never a contact request) are left
    # uncontacted to measure uplift.
    recovery_churn_threshold: Annotated[float, Meta(ge=0, le=1)] | None = None
    recovery_churn_prior: Annotated[float, Meta(ge=0, le=1)] = 0.2
    recovery_high_value: NonNegativeFloat = 5000.0
    recovery_control_share: Annotated[float, Meta(ge=0, le=1)] = 0.0
    recovery_lease_seconds: Annotated[int, Meta(ge=1, le=86400)] = 900
    recovery_sweep_seconds: Annotated[float, Meta(gt=0)] = 30.0
    # Closing the loop (docs/closing-the-loop.md): this many days after a task is resolved
    # recovered or not_recovered (or a control task closes), a one-question pulse survey goes
    # out; 0 turns pulses off.
    recovery_pulse_days: Annotated[int, Meta(ge=0, le=365)] = 14

    # Comment themes (docs/themes.md): a run is started when the last one is older than
    # themes_refresh_hours and comments came in since (0 hours: only on demand); it learns from
    # the comments of the last themes_window_days (at most themes_max_comments, newest first),
    # per language with at least themes_min_comments, into at most themes_max_per_language themes.
    # A topic at least themes_match_threshold alike (cosine of signatures) continues a theme.
    themes_refresh_hours: Annotated[float, Meta(ge=0)] = 24.0
    themes_check_seconds: Annotated[float, Meta(gt=0)] = 300.0
    themes_window_days: Annotated[int, Meta(ge=7, le=3660)] = 365
    themes_max_comments: Annotated[int, Meta(ge=100, le=1_000_000)] = 50_000
    themes_min_comments: Annotated[int, Meta(ge=5)] = 30
    themes_max_per_language: Annotated[int, Meta(ge=2, le=50)] = 12
    themes_match_threshold: Annotated[float, Meta(gt=0, lt=1)] = 0.3
    # Alerts to the team (docs/alerts.md): a task whose priority is at least urgent_priority is
    # urgent (each rule names recipients per urgency); the sweep warns this many minutes before a
    # deadline; one recipient gets at most this many messages an hour (more alerts wait, then go
    # out together as one); with a signing secret (whsec_...) every Slack-compatible POST carries
    # Standard Webhooks signature headers for receivers that check them.
    alerts_urgent_priority: NonNegativeFloat = 100.0
    alerts_deadline_near_minutes: Annotated[float, Meta(gt=0, le=7 * 24 * 60)] = 60.0
    alerts_per_recipient_per_hour: PositiveInt = 12
    alerts_signing_secret: str | None = None

    @property
    def base_url(self) -> str:
        """The URL customers and the CRM reach this service at."""
        if self.public_base_url:
            return self.public_base_url.rstrip("/")
        host = "localhost" if self.host in ("0.0.0.0", "::", "127.0.0.1") else self.host  # noqa: S104
        return f"http://{host}:{self.port}"

    @property
    def console_login_window_seconds(self) -> float:
        return self.console_lockout_minutes * 60

    @property
    def uses_embedded_database(self) -> bool:
        return self.database_url is None

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> "Settings":
        """Build settings from environment variables (see ENV_NAMES)."""
        values: dict[str, Any] = {}
        hints = typing.get_type_hints(cls, include_extras=True)
        for field, env_name in ENV_NAMES.items():
            raw = environ.get(env_name)
            if raw is None or raw == "":
                continue
            try:
                values[field] = msgspec.convert(raw, hints[field], strict=False, dec_hook=_decode_extra)
                # what msgspec cannot say in a type: patterns as the spec means them ("EUR\n")
                check = checker_for(hints[field])
                if check is not None:
                    check(values[field], field)
            except (msgspec.ValidationError, Refused) as error:
                reason = error.message if isinstance(error, Refused) else str(error).split(" - at ")[0]
                raise SettingsError(f"{env_name}={raw!r} is not valid: {reason}") from None
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        """Cross-field rules that a single type cannot express."""
        if self.database_url is not None and not self.database_url.startswith(
            ("postgresql://", "postgres://")
        ):
            raise SettingsError("DATABASE_URL must start with postgresql:// (PostgreSQL 15 or newer)")
        if self.database_url is not None and not self.secret_key:
            raise SettingsError(
                "FEEDBACK_SECRET_KEY is required when DATABASE_URL is set: every replica must sign "
                "with the same key (generate one with: "
                "python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        if self.secret_key is not None and len(self.secret_key) < 32:
            raise SettingsError("FEEDBACK_SECRET_KEY must be at least 32 characters long")
        if self.db_pool_min > self.db_pool_max:
            raise SettingsError("FEEDBACK_DB_POOL_MIN must not exceed FEEDBACK_DB_POOL_MAX")
        if self.public_base_url and not self.public_base_url.startswith(("http://", "https://")):
            raise SettingsError("FEEDBACK_PUBLIC_BASE_URL must start with http:// or https://")
        if self.alerts_signing_secret is not None and not _is_signing_secret(self.alerts_signing_secret):
            raise SettingsError(
                "FEEDBACK_ALERTS_SIGNING_SECRET must be whsec_ and 24 to 64 random bytes in base64 "
                "(generate one with: python -c "
                "'from feedback_svc.webhooks.signing import new_secret; print(new_secret())')"
            )
        for entry in self.proxy_networks_text():
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise SettingsError(
                    f"FEEDBACK_TRUSTED_PROXIES: {entry!r} is not an IP address or network "
                    "(e.g. 10.0.0.5 or 10.0.0.0/24)"
                ) from None

    def proxy_networks_text(self) -> list[str]:
        """The trusted proxies, one entry each (addresses or networks, as written)."""
        return [entry.strip() for entry in self.trusted_proxies.split(",") if entry.strip()]

    def with_secret(self) -> "Settings":
        """Settings whose secret_key is set, generating one in data_dir if needed."""
        if self.secret_key:
            return self
        return msgspec.structs.replace(self, secret_key=_local_secret(self.data_dir))


def _is_signing_secret(value: str) -> bool:
    if not value.startswith("whsec_"):
        return False
    try:
        key = base64.b64decode(value.removeprefix("whsec_"), validate=True)
    except binascii.Error:
        return False
    return 24 <= len(key) <= 64


def _local_secret(data_dir: Path) -> str:
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.touch(mode=0o600)
    path.write_text(key, encoding="utf-8")
    return key


def _decode_extra(kind: type, value: Any) -> Any:
    if kind is Path and isinstance(value, str):
        return Path(value).expanduser()
    raise NotImplementedError(f"cannot read a {kind} from the environment")


def _env_name(field: str) -> str:
    return "DATABASE_URL" if field == "database_url" else f"FEEDBACK_{field.upper()}"


ENV_NAMES: dict[str, str] = {field: _env_name(field) for field in Settings.__struct_fields__}


def describe_settings() -> list[tuple[str, str, str]]:
    """(variable, type, default) for every setting, for the README and `--help`."""
    rows = []
    defaults = Settings()
    hints = typing.get_type_hints(Settings)
    for field, env_name in ENV_NAMES.items():
        default = getattr(defaults, field)
        rows.append((env_name, _type_name(hints[field]), "" if default is None else str(default)))
    return rows


def _type_name(hint: Any) -> str:
    if typing.get_origin(hint) is Literal:
        return " | ".join(str(arg) for arg in typing.get_args(hint))
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return " | ".join(_type_name(arg) for arg in typing.get_args(hint) if arg is not type(None))
    return getattr(hint, "__name__", str(hint))
