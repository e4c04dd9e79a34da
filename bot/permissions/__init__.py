"""Permissions: who may see an incident, who may change it, who may do the consequential
things. The rules are pure functions over facts passed in; they never call Slack.

- See: a public incident, everyone; a private one, its channel's members and incident admins
  (`visibility.can_see`).
- Change: responders, the members of its channel, and incident admins (`can_respond`).
- Consequential actions (hand the manager role over, resolve, reopen, complete the post-mortem,
  close someone else's action item, publish to the status page, notify customers): the holders
  the policy names for each (PERMISSIONS; `policy.DEFAULTS` otherwise).

`rules.decide` is the one decision every request passes; it is called from one place,
handlers/access.admit. Lists and pickers filter with `can_see` and `can_respond`.
"""

from __future__ import annotations

from bot.permissions.facts import load, subject_of
from bot.permissions.policy import (
    CONSEQUENTIAL,
    DEFAULTS,
    Admins,
    Holder,
    Permission,
    Policy,
    check_reachable,
)
from bot.permissions.rules import (
    Decision,
    decide,
    decide_declaring,
    decide_general,
    holds,
    unseen,
)
from bot.permissions.visibility import Subject, can_respond, can_see

__all__ = [
    "CONSEQUENTIAL",
    "DEFAULTS",
    "Admins",
    "Decision",
    "Holder",
    "Permission",
    "Policy",
    "Subject",
    "can_respond",
    "can_see",
    "check_reachable",
    "decide",
    "decide_declaring",
    "decide_general",
    "holds",
    "load",
    "subject_of",
    "unseen",
]
