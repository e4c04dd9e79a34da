"""Who we are on Slack: the workspace and the app requests must be for.

Learned once at start-up from `auth.test` (the team, the bot) and `bots.info` (the app the
bot belongs to), unless SLACK_TEAM_ID and SLACK_APP_ID say so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.core.errors import ConfigError
from bot.settings import Settings
from bot.slack.directory import SlackDirectory

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Identity:
    """The team ids (workspace, and its Enterprise Grid organisation) and the app id."""

    team_ids: frozenset[str]
    app_id: str | None

    def refuses(self, *, team_id: str | None, app_id: str | None) -> str | None:
        """Why a request naming this team and app is not for us, or None when it is."""
        if self.team_ids and team_id not in self.team_ids:
            return f"team {team_id or '(none)'} is not ours"
        if self.app_id and app_id and app_id != self.app_id:
            return f"app {app_id} is not ours"
        return None


def learn(settings: Settings, client: WebClient) -> Identity:
    """Ask Slack who we are (only what the settings do not say)."""
    team_ids = settings.team_ids
    app_id = settings.slack_app_id or None
    if team_ids and app_id:
        return Identity(team_ids, app_id)
    try:
        auth = SlackDirectory(client).auth()
    except SlackApiError as exc:
        raise ConfigError(
            f"Cannot start: Slack refused the bot token in auth.test "
            f"(`{exc.response.get('error')}`); check SLACK_BOT_TOKEN."
        ) from exc
    except OSError as exc:
        raise ConfigError(
            f"Cannot start: Slack's Web API did not answer auth.test ({exc}). Check the "
            "network, or set SLACK_TEAM_ID and SLACK_APP_ID to start without asking."
        ) from exc
    if not team_ids:
        team_ids = frozenset(str(t) for t in (auth.get("team_id"), auth.get("enterprise_id")) if t)
    if app_id is None:
        app_id = auth.get("app_id") or _app_of_bot(client, auth.get("bot_id"))
    return Identity(team_ids, app_id)


def _app_of_bot(client: WebClient, bot_id: str | None) -> str | None:
    if not bot_id:
        return None
    try:
        return str(client.bots_info(bot=bot_id)["bot"]["app_id"]) or None
    except (SlackApiError, KeyError, TypeError) as exc:
        log.warning(
            "could not learn the app id from bots.info (%s); set SLACK_APP_ID to refuse "
            "requests for other apps",
            exc,
        )
        return None
