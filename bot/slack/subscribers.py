"""Who listens to the event bus, and in which order: every subscription is made here.

`Services.apply` publishes each event once its transaction has committed; the bus calls the
subscribers of its kind one after the other, in this order, and a failing one is logged
without stopping the others.

1. ``slack_surfaces`` (IncidentEvent): builds the channel, card and announcement of a new
   incident and reflects every later change. First, because it is what people are waiting
   for: the declarer for their channel, everyone else for the card.
2. ``timeline`` (IncidentEvent): the bot's own timeline entry. Before the post-mortem, which
   is drafted from the timeline and must include the resolution.
3. ``reminders`` (IncidentEvent): re-plans the incident's status-update reminders from its
   new facts. Before ``reminder_wakeup``, which reads what it planned.
4. ``postmortem_opening`` (IncidentResolved): gives the post-mortem its due date and its
   owner's reminder, through `Services.apply`, which publishes PostmortemOpened at once
   (to the subscribers below) before the bus goes on with the IncidentResolved.
5. ``postmortem_document`` (PostmortemEvent: opened, edited, completed): drafts the document
   again and posts it to the incident's channel.
6. ``action_items`` (ActionItemEvent: created, completed): announces new items to the
   channel and the owner; says in the channel when one is done.
7. ``reminder_wakeup`` (IncidentEvent): wakes the reminder ticker when the re-planned
   reminder falls due before its next tick. After step 3: it needs step 3's rows.
8. ``alerts`` (IncidentDeclared): links an alert group to the incident declared from its
   triage message, and updates that message.
9. ``notice_wakeup`` (IncidentEvent): wakes the stakeholder notice loop, so the notices the
   change planned (in its own transaction, `Services.recorders`) go out now, not at the
   next tick.
"""

from __future__ import annotations

from bot import reminders
from bot.core.events import (
    ActionItemEvent,
    IncidentDeclared,
    IncidentEvent,
    IncidentResolved,
    PostmortemEvent,
)
from bot.reminders.policy import ReminderPolicy
from bot.slack.action_items import ActionItemSlack
from bot.slack.jobs import ReminderTicker
from bot.slack.postmortems import PostmortemSlack
from bot.slack.services import Services


def install(services: Services, *, reminder_ticker: ReminderTicker | None = None) -> None:
    """Subscribe every feature to the event bus, in the order the module docstring gives.

    `reminder_ticker` is the scheduler's reminder loop (bot.slack.jobs.schedule), if it runs.
    """
    bus = services.events
    if bus.subscribers():
        raise RuntimeError("the event bus has subscribers already")
    policy = ReminderPolicy.from_settings(services.settings)
    postmortem_slack = PostmortemSlack(services)
    bus.subscribe("slack_surfaces", services.surfaces.on_event, IncidentEvent)
    bus.subscribe("timeline", services.timeline.on_event, IncidentEvent)
    bus.subscribe("reminders", reminders.subscriber(services.db, policy), IncidentEvent)
    bus.subscribe("postmortem_opening", postmortem_slack.on_resolved, IncidentResolved)
    bus.subscribe("postmortem_document", postmortem_slack.on_change, PostmortemEvent)
    bus.subscribe("action_items", ActionItemSlack(services).on_event, ActionItemEvent)
    if reminder_ticker is not None:
        bus.subscribe("reminder_wakeup", reminder_ticker.on_event, IncidentEvent)
    bus.subscribe("alerts", services.alerts.on_event, IncidentDeclared)
    if services.notices is not None:
        bus.subscribe("notice_wakeup", services.notices.on_event, IncidentEvent)
