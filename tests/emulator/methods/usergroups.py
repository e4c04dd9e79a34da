"""usergroups.users.list: the members of a user group (handle `@oncall`, id `S…`).

Slack answers `no_such_subteam` for an id it does not know; a disabled group counts only with
`include_disabled`. Groups are seeded with `SlackEmulator.add_usergroup`.
"""

from __future__ import annotations

from typing import Any

from ..errors import SlackError
from ..params import Params
from ..state import Workspace
from ._base import Handler


def users_list(ws: Workspace, p: Params) -> dict[str, Any]:
    group = ws.usergroups.get(p.req("usergroup"))
    if group is None or (group["date_delete"] and not p.flag("include_disabled")):
        raise SlackError("no_such_subteam")
    return {"users": list(group["users"])}


METHODS: dict[str, Handler] = {
    "usergroups.users.list": users_list,
}
