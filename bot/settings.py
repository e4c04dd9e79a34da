"""One validated settings object, read from the environment and a `.env` file."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.core.errors import ConfigError
from bot.followups import policy as followup_policy
from bot.reminders import policy as reminder_policy
from storage.db import DEFAULT_URL

SLACK_API_URL = "https://slack.com/api/"
PLACEHOLDER_MARKERS = ("your-", "changeme", "change-me", "xxxx", "placeholder", "...")
_EMOJI_NAME = re.compile(r"^[a-z0-9_+'-]+$")
_SLACK_ID = re.compile(r"^[A-Z][A-Z0-9]{2,31}$")

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
    # Post-mortems: a Jinja2 Markdown template file (empty: the built-in one), due date.
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

    @field_validator("postmortem_template")
    @classmethod
    def _postmortem_template(cls, value: str) -> str:
        from bot.postmortems.docs import check_template  # Jinja2 only; no cycle

        check_template(value.strip())
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
    def socket_mode(self) -> bool:
        """True when an app-level token is set: connect out to Slack instead of serving HTTP."""
        return bool(self.slack_app_token)

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
            lines.append(f"{key}: {err['msg']}")
        raise ConfigError("Invalid configuration: " + "; ".join(lines)) from exc
