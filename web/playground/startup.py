"""Playground mode: the bot against the built-in Slack emulator, on a local SQLite file.

`scripts/start` without SLACK_BOT_TOKEN (or with `--playground`) comes here from app.py.
`PlaygroundSession` starts Slack's side (playground/), writes a demo status page and
stakeholder file under ./playground-data/, and gives the settings that point the bot at all
of it: the emulator's Web API, its Sign in with Slack (for the console), the mailbox (SMTP),
the fake Twilio and Mastodon, the alert hooks' token.
"""

from __future__ import annotations

import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.routing import BaseRoute

from bot.settings import Settings, load_settings
from playground import providers
from playground.mailbox import free_port
from playground.world import Playground
from web.playground import is_loopback

DATA_DIR = Path("playground-data")
CONSOLE_CLIENT_ID = "playground-console"

STATUS_YML = """name: Playground Status
url: {base}
components:
  - name: API
  - name: Website
  - name: Card payments
    group: Payments
"""

STAKEHOLDERS_YML = """groups:
  - name: Leadership
    quadrant: keep_satisfied
    members:
      - name: Sam Silva
        slack: {sam}
        email: sam@playground.example
        phone: "+15550100001"
  - name: Customers
    quadrant: keep_informed
    members:
      - email: customers@playground.example
  - name: Leadership phones
    quadrant: keep_informed
    notify:
      - via: sms
        on: [declared, resolved]
        severities: [sev1, sev2]
    members:
      - name: Sam Silva
        phone: "+15550100001"
"""


@dataclass
class PlaygroundSession:
    """Slack's side on loopback plus the settings that point the bot at it."""

    settings: Settings
    world: Playground
    base_url: str  # http://127.0.0.1:3000
    data_dir: Path
    alert_token: str
    open_to_all: bool  # PLAYGROUND_HOST is not a loopback address
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """The one URL to open."""
        return self.base_url + "/playground"

    @property
    def events_url(self) -> str:
        return self.base_url + "/slack/events"

    def routes(self) -> list[BaseRoute]:
        """The page and its JSON API, for the bot's server."""
        from web.playground.api import playground_routes

        return playground_routes(self)

    def connect(self) -> None:
        """The driver the page uses sends signed requests to the bot's /slack/events."""
        self.world.connect(self.events_url)

    def banner(self) -> str:
        """What start-up prints."""
        return "\n".join(
            [
                "",
                "  PLAYGROUND MODE: no Slack workspace is connected"
                " (no SLACK_BOT_TOKEN, or --playground).",
                "  The bot runs against a built-in Slack emulator, with a fresh database in "
                f"{self.data_dir}/.",
                "  Mail, SMS and social posts are captured, nothing leaves this machine.",
                "",
                f"  Open {self.url}",
                "",
                "  To connect a real workspace, set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET",
                '  (README, "Create the Slack app") and start again.',
                "",
            ]
        )

    def stop(self) -> None:
        self.world.stop()


def start_session(
    settings: Settings, *, env_file: str | Path | None = ".env", data_dir: Path = DATA_DIR
) -> PlaygroundSession:
    """Start Slack's side and build the playground's settings from `settings`'s other keys."""
    # PLAYGROUND_HOST, else HOST when it is a loopback address, else loopback.
    host = settings.playground_host or (
        settings.host if is_loopback(settings.host) else "127.0.0.1"
    )
    port = settings.port or free_port("127.0.0.1" if host in ("0.0.0.0", "::") else host)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    base = f"http://{'[' + shown + ']' if ':' in shown else shown}:{port}"
    data_dir.mkdir(parents=True, exist_ok=True)
    database = data_dir / "playground.db"
    for stale in data_dir.glob("playground.db*"):  # the emulated workspace lives in memory
        stale.unlink()
    world = Playground().start()
    try:
        status_file = data_dir / "status.yml"
        status_file.write_text(STATUS_YML.format(base=base))
        stakeholders_file = data_dir / "stakeholders.yml"
        stakeholders_file.write_text(STAKEHOLDERS_YML.format(sam=world.people["sam"]))
        console_secret = secrets.token_urlsafe(24)
        world.slack.oidc.register_client(
            CONSOLE_CLIENT_ID, console_secret, [base + "/console/auth/callback"]
        )
        alert_token = secrets.token_urlsafe(24)
        overrides: dict[str, Any] = {
            "slack_bot_token": world.bot_token,
            "slack_signing_secret": world.signing_secret,
            "slack_app_token": "",
            "slack_api_url": world.slack.api_url,
            "slack_team_id": "",
            "slack_app_id": "",
            "database_url": f"sqlite:///{database.resolve()}",
            "host": host,
            "port": port,
            "incident_broadcast_channel": world.channels["incidents"],
            "alerts_channel": world.channels["incidents"],
            "alert_webhook_token": alert_token,
            "grafana_webhook_secret": "",
            "pagerduty_webhook_secret": "",
            "status_page_file": str(status_file),
            "status_page_url": "",
            "stakeholders_file": str(stakeholders_file),
            "smtp_host": world.mailbox.host,
            "smtp_port": world.mailbox.port,
            "smtp_tls": "none",
            "smtp_username": "",
            "smtp_password": "",
            "smtp_from": "incident-bot@playground.example",
            "sms_provider": "twilio",
            "twilio_account_sid": providers.TWILIO_SID,
            "twilio_auth_token": providers.TWILIO_TOKEN,
            "twilio_from": providers.TWILIO_FROM,
            "twilio_api_url": world.providers.url,
            "mastodon_api_url": world.providers.url,
            "mastodon_access_token": providers.MASTODON_TOKEN,
            "slack_client_id": CONSOLE_CLIENT_ID,
            "slack_client_secret": console_secret,
            "console_session_secret": secrets.token_urlsafe(32),
            "console_base_url": base,
            "incident_admins": world.people["iris"],
            # Quiet by default: the banner's one URL stands out; the page's inspector shows
            # every request and call. LOG_LEVEL=DEBUG (or WARNING...) is kept when set.
            "log_level": "WARNING" if settings.log_level == "INFO" else settings.log_level,
        }
        playground_settings = load_settings(env_file=env_file, **overrides)
    except BaseException:
        world.stop()
        raise
    return PlaygroundSession(
        settings=playground_settings,
        world=world,
        base_url=base,
        data_dir=data_dir,
        alert_token=alert_token,
        open_to_all=not is_loopback(host),
    )


def clear_data(data_dir: Path = DATA_DIR) -> None:
    """Remove the playground's folder (for tests and `rm -r`-shy people)."""
    shutil.rmtree(data_dir, ignore_errors=True)
