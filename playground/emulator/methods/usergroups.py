"""usergroups.list and usergroups.users.list (scope usergroups:read, Tier 2).

A disabled user group (``date_delete`` set) is only answered with ``include_disabled``;
unknown ids are ``no_such_subteam``.
"""

from __future__ import annotations

import copy
from typing import Any

from ..errors import SlackError, missing_field
from ..params import Params
from ..state import Workspace
from ._base import Handler


def _visible(group: dict[str, Any], p: Params) -> bool:
    return not group.get("date_delete") or p.flag("include_disabled")


def users_list(ws: Workspace, p: Params) -> dict[str, Any]:
    group_id = p.opt("usergroup")
    if not group_id:
        raise missing_field("usergroup")
    group = ws.usergroups.get(group_id)
    if group is None or not _visible(group, p):
        raise SlackError("no_such_subteam")
    users = [u for u in group["users"] if u in ws.users and not ws.users[u].get("deleted")]
    return {"users": users}


def list_(ws: Workspace, p: Params) -> dict[str, Any]:
    found = []
    for group in ws.usergroups.values():
        if not _visible(group, p):
            continue
        shown = copy.deepcopy(group)
        if not p.flag("include_users"):
            shown.pop("users", None)
        if not p.flag("include_count"):
            shown.pop("user_count", None)
        found.append(shown)
    return {"usergroups": found}


METHODS: dict[str, Handler] = {
    "usergroups.list": list_,
    "usergroups.users.list": users_list,
}
