"""One validated settings object, read from the environment and a `.env` file."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.alerts.rules import EMPTY as NO_ALERT_RULES
from bot.alerts.rules import AlertRules, load_rules
from bot.alerts.yamlfile import FileError
from bot.core.errors import ConfigError
from bot.drills.scenario import Scenario, available, load_dir
from bot.followups import policy as followup_policy
from bot.permissions import Admins, Policy, check_reachable
from bot.rate_limits import DEFAULT_LIMITS, Bucket, Limit, parse_limits
from bot.reminders import policy as reminder_policy
from bot.stakeholders import config as stakeholder_config
from bot.stakeholders import webhooks as webhook_config
from bot.stakeholders.config import Directory, Via
from bot.stakeholders.webhooks import Webhook
from bot.statuspage import config as status_page_config
from storage.db import DEFAULT_URL, in_memory

SLACK_API_URL = "https://slack.com/api/"
PLACEHOLDER_MARKERS = ("your-", "changeme", "change-me", "xxxx", "placeholder", "...")
_EMOJI_NAME = re.compile(r"^[a-z0-9_+'-]+$")
_SLACK_ID = re.compile(r"^[A-Z][A-Z0-9]{2,31}$")
_CHANNEL = re.compile(r"^(#[a-z0-9][a-z0-9_-]{0,79}|[CG][A-Z0-9]{2,20})$")
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$")
CREDENTIAL_MIN = 16

_WHERE_BOT_TOKEN = (
    "api.slack.com/apps -> your app -> OAuth & Permissions -> Bot User OAuth Token (xoxb-...)"
)
_WHERE_SIGNING_SECRET = "api.slack.com/apps -> your app -> Basic Information -> Signing Secret"
_WHERE_APP_TOKEN = (
    "api.slack.com/apps -> your app -> Basic Information -> App-Level Tokens "
    "(scope connections:write, xapp-...)"
)


def _is_placeholder(value: str) -> bool:
    lowered = value.strip().lower()
    return not lowered or any(marker in lowered for marker in PLACEHOLDER_MARKERS)


class Settings(BaseSettings):
    """Every configuration key of the bot; see `.env.example` for documentation."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    slack_bot_token: str = ""
    slack_signing_secret: str = ""
    slack_app_token: str = ""
    slack_api_url: str = SLACK_API_URL
    database_url: str = DEFAULT_URL
    host: str = "0.0.0.0"
    port: int = Field(default=3000, ge=0, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    worker_threads: int = Field(default=64, ge=1, le=1024)
    # Over HTTP, commands, buttons and events are processed by a worker process beside the
    # one that answers Slack (web/handoff.py). auto: on, except on SQLite without the
    # journal (INBOX_JOURNAL=off: there the answers would queue behind the worker for the
    # one write lock); on; off: one process does both.
    process_worker: Literal["auto", "on", "off"] = "auto"
    incident_channel_prefix: str = Field(default="inc", pattern=r"^[a-z0-9][a-z0-9_-]{0,19}$")
    incident_broadcast_channel: str = ""
    # Timeline (emoji names without colons; comma-separated list allowed).
    timeline_emoji: str = "pushpin"
    # Status-update reminders: per-severity intervals (s, m, h units; off disables).
    reminder_intervals: str = "sev1=15m,sev2=30m,sev3=1h,sev4=off"
    # Nudge when an open incident has had no incident manager this long (s, m, h; off).
    no_manager_nudge_after: str = "5m"
    no_manager_nudge_max: int = Field(default=3, ge=0, le=100)
    # Quiet hours for low severities, e.g. "sev3,sev4@22:00-08:00" in QUIET_HOURS_TZ; empty: off.
    quiet_hours: str = ""
    quiet_hours_tz: str = "UTC"
    # Post-mortems: a Jinja2 Markdown template file (empty: the built-in one), the files of its
    # folder it may include or import (comma-separated names), due date.
    postmortem_template_includes: str = ""  # before postmortem_template, which checks with it
    postmortem_template: str = ""
    postmortem_due_working_days: int = Field(default=5, ge=0, le=60)
    # Reaction that turns a message into an action item.
    action_item_emoji: str = "ballot_box_with_check"
    # Owners of due action items and post-mortems are reminded daily at this time (HH:MM)
    # in this time zone, which also decides working days and "today".
    followup_reminder_time: str = "09:00"
    followup_timezone: str = "UTC"
    # How often the scheduler looks for due reminders, in seconds.
    scheduler_tick_seconds: float = Field(default=5.0, gt=0, le=300)
    # How long a replica holds a reminder it is sending before another may take it over.
    reminder_lease_seconds: float = Field(default=30.0, ge=5, le=600)
    # Delivered side effects are kept this many days in the outbox, then trimmed.
    outbox_retention_days: float = Field(default=7.0, gt=0, le=3650)
    # The request path (web/). Requests for another workspace or app are refused: ours are
    # learned from auth.test at start unless set here (team ids comma-separated).
    slack_team_id: str = ""
    slack_app_id: str = ""
    request_max_bytes: int = Field(default=1_048_576, ge=1024, le=100 * 1_048_576)
    request_header_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    request_body_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    # Requests are kept in the inbox until processed: how long a replica holds one it is
    # processing (a crashed replica's requests are taken over after this), and how long
    # processed ones are kept.
    inbox_lease_seconds: float = Field(default=30.0, ge=2, le=600)
    inbox_retention_days: float = Field(default=7.0, gt=0, le=3650)
    # Over HTTP on a SQLite file, requests answered at once are kept in a journal file beside
    # the database before their answer, then moved into the inbox (web/journal.py). auto: so;
    # off: kept in the inbox before the answer.
    inbox_journal: Literal["auto", "off"] = "auto"

    @field_validator("slack_team_id")
    @classmethod
    def _team_ids(cls, value: str) -> str:
        ids = [part.strip() for part in value.split(",") if part.strip()]
        for team in ids:
            if not _SLACK_ID.match(team) or team[0] not in "TE":
                raise ValueError(f"{team!r} is not a Slack team id, like T0123ABCD")
        return ",".join(ids)

    @field_validator("slack_app_id")
    @classmethod
    def _app_id(cls, value: str) -> str:
        value = value.strip()
        if value and (not _SLACK_ID.match(value) or not value.startswith("A")):
            raise ValueError(f"{value!r} is not a Slack app id, like A0123ABCD")
        return value

    # E-mail over SMTP (stakeholder notices, status page subscribers).
    smtp_host: str = ""
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_tls: Literal["starttls", "ssl", "none"] = "starttls"
    smtp_from: str = ""
    smtp_ca_file: str = ""
    # Stakeholder notices (bot/stakeholders): who is told, and how.
    stakeholders_file: str = ""
    webhooks_file: str = ""
    status_page_url: str = ""
    stakeholder_templates_dir: str = ""
    notice_lease_seconds: float = Field(default=60.0, ge=5, le=600)
    sms_provider: Literal["", "twilio", "vonage"] = ""
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_from: str = ""
    twilio_api_url: str = "https://api.twilio.com"
    vonage_api_key: str = ""
    vonage_api_secret: str = ""
    vonage_from: str = ""
    vonage_api_url: str = "https://rest.nexmo.com"
    mastodon_api_url: str = ""
    mastodon_access_token: str = ""
    _stakeholders: Directory = PrivateAttr(default_factory=Directory)
    _webhooks: tuple[Webhook, ...] = PrivateAttr(default=())
    # Public status page: a YAML file (name, url, components); empty: no status page.
    status_page_timezone: str = "UTC"
    status_page_file: str = ""
    # How often each replica checks whether another one changed the page (seconds).
    status_page_refresh_seconds: float = Field(default=1.0, gt=0, le=60)
    # Permissions (README: Permissions): incident admins (user ids and user group ids), who may
    # do each consequential action, how long Slack's answer on who is in a channel is reused.
    incident_admins: str = ""  # before permissions, which checks with it
    permissions: str = ""
    access_cache_seconds: float = Field(default=30.0, ge=0, le=600)
    # Per-person rate limits: declarations and costly requests (count/duration, or off).
    rate_limits: str = DEFAULT_LIMITS
    # Alerts from monitoring tools (POST /hooks/<source>); empty credentials refuse them all.
    alert_webhook_token: str = ""
    grafana_webhook_secret: str = ""
    grafana_signature_header: str = "X-Grafana-Alerting-Signature"
    grafana_timestamp_header: str = ""
    pagerduty_webhook_secret: str = ""  # several, comma-separated, while rotating
    opsgenie_webhook_username: str = ""
    opsgenie_webhook_password: str = ""
    alerts_channel: str = ""
    alert_rules_file: str = ""

    @field_validator(
        "alert_webhook_token",
        "grafana_webhook_secret",
        "opsgenie_webhook_password",
    )
    @classmethod
    def _credential(cls, value: str) -> str:
        value = value.strip()
        if value and (_is_placeholder(value) or len(value) < CREDENTIAL_MIN):
            raise ValueError(
                f"use a random value of at least {CREDENTIAL_MIN} characters "
                "(for example from `openssl rand -hex 24`), or leave it empty"
            )
        return value

    @field_validator("pagerduty_webhook_secret")
    @classmethod
    def _pagerduty_secrets(cls, value: str) -> str:
        secrets = [part.strip() for part in value.split(",") if part.strip()]
        for secret in secrets:
            if _is_placeholder(secret) or len(secret) < CREDENTIAL_MIN:
                raise ValueError(
                    "each secret is the one PagerDuty showed when the webhook subscription "
                    "was created (comma-separated while rotating)"
                )
        return ",".join(secrets)

    @field_validator("opsgenie_webhook_username")
    @classmethod
    def _opsgenie_username(cls, value: str) -> str:
        if ":" in value:
            raise ValueError("a basic-auth user name cannot contain ':'")
        return value.strip()

    @field_validator("grafana_signature_header", "grafana_timestamp_header")
    @classmethod
    def _header_name(cls, value: str) -> str:
        value = value.strip()
        if value and not _HEADER_NAME.match(value):
            raise ValueError(f"{value!r} is not an HTTP header name")
        return value

    @field_validator("playground_host")
    @classmethod
    def _playground_host(cls, value: str) -> str:
        value = value.strip()
        if value and not re.fullmatch(r"[A-Za-z0-9.:-]{1,253}", value):
            raise ValueError("must be an address to listen on, like 127.0.0.1 or 0.0.0.0")
        return value

    @field_validator("alerts_channel")
    @classmethod
    def _alerts_channel(cls, value: str) -> str:
        value = value.strip()
        if value and not _CHANNEL.match(value):
            raise ValueError("must be a channel id (C0123ABCD) or #name")
        return value

    @field_validator("alert_rules_file")
    @classmethod
    def _alert_rules_file(cls, value: str) -> str:
        value = value.strip()
        if value:
            try:
                load_rules(value)
            except FileError as exc:
                raise ValueError(str(exc)) from None
        return value

    def alert_rules(self) -> AlertRules:
        """ALERT_RULES_FILE, read and checked (no rules when it is not set)."""
        return load_rules(self.alert_rules_file) if self.alert_rules_file else NO_ALERT_RULES

    # Drills: a folder of game-day scenarios (*.yml) replacing the built-in ones.
    drills_dir: str = ""

    @field_validator("drills_dir")
    @classmethod
    def _drills_dir(cls, value: str) -> str:
        value = value.strip()
        if value:
            try:
                load_dir(value)
            except FileError as exc:
                raise ValueError(str(exc)) from None
        return value

    def drill_scenarios(self) -> dict[str, Scenario]:
        """DRILLS_DIR's scenarios (checked at start-up), else the built-in ones."""
        return available(self.drills_dir)

    # Sign in with Slack for the console (/console): the Slack app's OpenID Connect client.
    # Setting them never changes how the bot authorises Slack requests (see app.py).
    slack_client_id: str = ""
    slack_client_secret: str = ""
    # Signs the console's session cookie (at least 32 characters); the console's public URL
    # (https://incidents.example.com) for the sign-in redirect; how long a session lasts.
    console_session_secret: str = ""
    console_base_url: str = ""
    console_session_hours: int = Field(default=12, ge=1, le=720)
    # Weekly insights digest to the broadcast channel, e.g. "mon 09:00" (FOLLOWUP_TIMEZONE).
    digest_schedule: str = ""
    # GET /metrics: on its own listener (METRICS_PORT, 0: off) and/or on the main server
    # behind `Authorization: Bearer METRICS_TOKEN` (empty: off).
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=0, ge=0, le=65535)
    metrics_token: str = ""
    # Playground mode (no SLACK_BOT_TOKEN, or `--playground`): the address it listens on
    # (empty: 127.0.0.1, loopback only; 0.0.0.0 opens it to the network, unauthenticated).
    playground_host: str = ""
    # text (default) or json: one JSON object per line.
    log_format: Literal["text", "json"] = "text"

    @field_validator("reminder_intervals")
    @classmethod
    def _reminder_intervals(cls, value: str) -> str:
        reminder_policy.parse_intervals(value)
        return value

    @field_validator("no_manager_nudge_after")
    @classmethod
    def _nudge_after(cls, value: str) -> str:
        reminder_policy.parse_duration(value)
        return value

    @field_validator("quiet_hours_tz")
    @classmethod
    def _quiet_hours_tz(cls, value: str) -> str:
        reminder_policy.parse_timezone(value)
        return value

    @field_validator("quiet_hours")
    @classmethod
    def _quiet_hours(cls, value: str) -> str:
        reminder_policy.parse_quiet_hours(value)
        return value

    @field_validator("postmortem_template_includes")
    @classmethod
    def _postmortem_template_includes(cls, value: str) -> str:
        from bot.postmortems.template_files import parse_includes  # Jinja2 only; no cycle

        return ",".join(parse_includes(value))

    @field_validator("postmortem_template")
    @classmethod
    def _postmortem_template(cls, value: str, info: ValidationInfo) -> str:
        from bot.postmortems.docs import check_template  # Jinja2 only; no cycle

        includes = [
            n for n in str(info.data.get("postmortem_template_includes", "")).split(",") if n
        ]
        if includes and not value.strip():
            raise ValueError("POSTMORTEM_TEMPLATE_INCLUDES is set, but no POSTMORTEM_TEMPLATE")
        check_template(value.strip(), includes)
        return value.strip()

    @field_validator("action_item_emoji")
    @classmethod
    def _action_item_emoji(cls, value: str) -> str:
        name = value.strip().strip(":").lower()
        if not _EMOJI_NAME.match(name):
            raise ValueError(f"{value!r} is not an emoji name, like ballot_box_with_check")
        return name

    @field_validator("followup_reminder_time")
    @classmethod
    def _followup_time(cls, value: str) -> str:
        followup_policy.parse_time_of_day(value)
        return value.strip()

    @field_validator("followup_timezone")
    @classmethod
    def _followup_timezone(cls, value: str) -> str:
        reminder_policy.parse_timezone(value)
        return value.strip() or "UTC"

    @field_validator("incident_admins")
    @classmethod
    def _incident_admins(cls, value: str) -> str:
        Admins.parse(value)
        return value.strip()

    @field_validator("permissions")
    @classmethod
    def _permissions(cls, value: str, info: ValidationInfo) -> str:
        policy = Policy.parse(value)
        if "incident_admins" in info.data:  # else INCIDENT_ADMINS has its own error
            check_reachable(policy, Admins.parse(str(info.data["incident_admins"])))
        return value.strip()

    @field_validator("rate_limits")
    @classmethod
    def _rate_limits(cls, value: str) -> str:
        parse_limits(value)
        return value.strip()

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("slack_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL such as https://slack.com/api/")
        return value if value.endswith("/") else value + "/"

    @field_validator("timeline_emoji")
    @classmethod
    def _timeline_emoji(cls, value: str) -> str:
        names = [part.strip().strip(":").lower() for part in value.split(",")]
        names = [name for name in names if name]
        if not names:
            raise ValueError("name at least one emoji, for example pushpin")
        for name in names:
            if not _EMOJI_NAME.match(name):
                raise ValueError(
                    f"{name!r} is not an emoji name; use names like pushpin or "
                    "round_pushpin, separated by commas"
                )
        return ",".join(dict.fromkeys(names))

    @field_validator("smtp_tls", mode="before")
    @classmethod
    def _lower_smtp_tls(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("smtp_ca_file")
    @classmethod
    def _smtp_ca_file(cls, value: str) -> str:
        if value and not Path(value).is_file():
            raise ValueError(f"{value} is not a file")
        return value

    @field_validator("sms_provider", mode="before")
    @classmethod
    def _lower_sms_provider(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("status_page_url", "twilio_api_url", "vonage_api_url", "mastodon_api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip()
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("stakeholder_templates_dir")
    @classmethod
    def _templates_dir(cls, value: str) -> str:
        value = value.strip()
        if value and not Path(value).is_dir():
            raise ValueError(f"{value} is not a directory")
        if value:
            from bot.stakeholders.mail import check_templates  # Jinja2 only; no cycle

            check_templates(value)
        return value

    @model_validator(mode="after")
    def _stakeholders_files(self) -> Settings:
        """Read STAKEHOLDERS_FILE and WEBHOOKS_FILE once; a bad one stops start-up."""
        if self.stakeholders_file.strip():
            self._stakeholders = stakeholder_config.load(self.stakeholders_file.strip())
        if self.webhooks_file.strip():
            self._webhooks = webhook_config.load(self.webhooks_file.strip())
        self._check_channels()
        return self

    def _check_channels(self) -> None:
        problems: list[str] = []
        provider_keys = {
            "twilio": ("twilio_account_sid", "twilio_auth_token", "twilio_from"),
            "vonage": ("vonage_api_key", "vonage_api_secret", "vonage_from"),
        }
        for key in provider_keys.get(self.sms_provider, ()):
            if not str(getattr(self, key)).strip():
                problems.append(f"SMS_PROVIDER={self.sms_provider} needs {key.upper()}")
        if bool(self.mastodon_api_url) != bool(self.mastodon_access_token):
            problems.append("set both MASTODON_API_URL and MASTODON_ACCESS_TOKEN, or neither")
        mail_ready = bool(self.smtp_host and self.smtp_from)
        for group in self._stakeholders.groups:
            uses = {rule.via for rule in group.rules}
            if Via.SMS in uses and not self.sms_provider and group.addresses(Via.SMS):
                problems.append(
                    f"group `{group.name}` (line {group.line}) texts its phone numbers, "
                    "but SMS_PROVIDER is not set"
                )
            if Via.EMAIL in uses and not mail_ready and group.addresses(Via.EMAIL):
                problems.append(
                    f"group `{group.name}` (line {group.line}) e-mails its members, "
                    "but SMTP_HOST and SMTP_FROM are not set"
                )
        if problems:
            raise ConfigError("Invalid configuration: " + "; ".join(problems))

    @property
    def stakeholders(self) -> Directory:
        """The groups of STAKEHOLDERS_FILE (none when it is not set)."""
        return self._stakeholders

    @property
    def webhooks(self) -> tuple[Webhook, ...]:
        """The receivers of WEBHOOKS_FILE (none when it is not set)."""
        return self._webhooks

    @field_validator("status_page_timezone")
    @classmethod
    def _status_page_timezone(cls, value: str) -> str:
        status_page_config.parse_timezone(value)
        return value.strip() or "UTC"

    @field_validator("status_page_file")
    @classmethod
    def _status_page_file(cls, value: str, info: ValidationInfo) -> str:
        path = value.strip()
        if path:
            timezone = info.data.get("status_page_timezone") or "UTC"
            status_page_config.load(path, timezone=timezone)  # the file's line and reason
        return path

    @field_validator("console_base_url")
    @classmethod
    def _console_base_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must be the console's public URL, like https://incidents.example.com")
        return value

    @field_validator("digest_schedule")
    @classmethod
    def _digest_schedule(cls, value: str) -> str:
        from bot.insights.digest import parse_schedule  # no cycle: the domain only

        parse_schedule(value)
        return value.strip().lower()

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower_log_format(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _console(self) -> Settings:
        if not self.slack_client_id:
            return self
        missing = []
        if _is_placeholder(self.slack_client_secret):
            missing.append(
                "SLACK_CLIENT_SECRET must be set with SLACK_CLIENT_ID (api.slack.com/apps -> "
                "your app -> Basic Information -> App Credentials)"
            )
        if len(self.console_session_secret) < 32 or _is_placeholder(self.console_session_secret):
            missing.append(
                "CONSOLE_SESSION_SECRET must be a random string of 32 characters or more "
                "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        if missing:
            raise ValueError("; ".join(missing))
        return self

    @property
    def console_enabled(self) -> bool:
        """True when Sign in with Slack is configured: the console is served."""
        return bool(self.slack_client_id)

    @property
    def worker_wanted(self) -> bool:
        """True when a processing worker runs beside the HTTP server (PROCESS_WORKER)."""
        if self.socket_mode or self.process_worker == "off":
            return False
        if self.process_worker == "on" or not self.database_url.startswith("sqlite"):
            return True
        # SQLite: with the journal (web/journal.py) the front's answers need none of its
        # write lock, which the worker's transactions would otherwise hold them behind.
        return self.inbox_journal == "auto" and not in_memory(self.database_url)

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:", "postgres:")):
            raise ValueError(
                "must be sqlite:///path/to/file.db or postgresql://user@host:port/database"
            )
        return value

    @property
    def timeline_emojis(self) -> frozenset[str]:
        """The reaction names that put a message on the timeline."""
        return frozenset(self.timeline_emoji.split(","))

    @property
    def team_ids(self) -> frozenset[str]:
        """The workspaces (and Enterprise Grid organisations) set in SLACK_TEAM_ID."""
        return frozenset(t for t in self.slack_team_id.split(",") if t)

    @property
    def postmortem_includes(self) -> tuple[str, ...]:
        """The files POSTMORTEM_TEMPLATE may include or import (names in its own folder)."""
        return tuple(n for n in self.postmortem_template_includes.split(",") if n)

    @property
    def status_page(self) -> status_page_config.PageConfig | None:
        """The status page's configuration, or None when STATUS_PAGE_FILE is not set."""
        if not self.status_page_file:
            return None
        return status_page_config.cached(self.status_page_file, self.status_page_timezone)

    @property
    def admins(self) -> Admins:
        """INCIDENT_ADMINS: user ids and user groups."""
        return Admins.parse(self.incident_admins)

    @property
    def permission_policy(self) -> Policy:
        """PERMISSIONS: who may do each consequential action."""
        return Policy.parse(self.permissions)

    @property
    def limits(self) -> dict[Bucket, Limit | None]:
        """RATE_LIMITS per bucket (None: no limit)."""
        return parse_limits(self.rate_limits)

    @property
    def socket_mode(self) -> bool:
        """True when an app-level token is set: connect out to Slack instead of serving HTTP."""
        return bool(self.slack_app_token)

    @property
    def slack_token_given(self) -> bool:
        """A SLACK_BOT_TOKEN was given (not empty, not .env.example's placeholder)."""
        return not _is_placeholder(self.slack_bot_token)

    def check_slack_credentials(self) -> None:
        """Stop start-up with a clear message when a Slack credential is missing or fake."""
        problems: list[str] = []
        if _is_placeholder(self.slack_bot_token) or not self.slack_bot_token.startswith("xoxb-"):
            problems.append(f"SLACK_BOT_TOKEN must be the bot token, from {_WHERE_BOT_TOKEN}")
        if self.socket_mode:
            if _is_placeholder(self.slack_app_token) or not self.slack_app_token.startswith(
                "xapp-"
            ):
                problems.append(
                    f"SLACK_APP_TOKEN must be an app-level token, from {_WHERE_APP_TOKEN}"
                )
        elif _is_placeholder(self.slack_signing_secret):
            problems.append(
                f"SLACK_SIGNING_SECRET must be the signing secret, from {_WHERE_SIGNING_SECRET}"
            )
        if problems:
            raise ConfigError(
                "Cannot start: "
                + "; ".join(problems)
                + ". Set them in the environment or in .env (see .env.example)."
            )


def load_settings(env_file: str | Path | None = ".env", **overrides: Any) -> Settings:
    """Read and validate the settings; a bad value raises ConfigError naming the key."""
    try:
        return Settings(_env_file=env_file, **overrides)  # type: ignore[call-arg]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            key = ".".join(str(part) for part in err["loc"]).upper()
            lines.append(f"{key}: {err['msg']}" if key else str(err["msg"]))
        raise ConfigError("Invalid configuration: " + "; ".join(lines)) from exc
