"""Who takes which events, in which order, and how their deliveries are ordered: every
subscription is made here.

`Services.apply` writes one outbox row per committed event and subscriber below, in this
order, in the transaction of the change; the outbox delivers each row to its subscriber at
least once, and each subscriber is idempotent by the row's delivery id (`bot.slack.keyed`
for messages). Deliveries of one incident in one *lane* go one after another, oldest first;
deliveries that *need the channel* wait for `channel`, the barrier of a setup; the others go
at once. Refreshes of one surface (*coalesce*) skip to the newest pending one.

1. ``channel`` (IncidentDeclared; setup; barrier, lane channel): makes the incident's
   channel. Everything that needs the channel waits for it.
2. ``members`` (IncidentDeclared, RoleAssigned; setup; needs the channel): invites the
   declarer and the manager, then each new role holder.
3. ``topic`` (IncidentEvent, StatusPagePublished; setup; lane topic, coalesce): the channel
   topic, latest state.
4. ``card`` (IncidentEvent, StatusPagePublished; setup; lane card, coalesce): posts and pins
   the card, then keeps it current. A lane of its own: a refresh never lands before the
   card is posted.
5. ``notices`` (every change after the declaration, and status page publications; lane
   channel): says in the channel what changed, in order; an update also goes under the
   broadcast line (never for a private incident).
6. ``broadcast`` (IncidentEvent, StatusPagePublished; setup; lane channel, coalesce):
   announces a public incident in INCIDENT_BROADCAST_CHANNEL and keeps that line current
   (a private incident never reaches it). In the channel lane: an update posted right after
   the declaration waits for the announcement to reply under it.
7. ``checklist`` (IncidentDeclared, RoleAssigned; setup; needs the channel): the new incident
   manager's checklist by direct message.
8. ``timeline`` (IncidentEvent; lane record): the bot's own timeline entry. In the lane of
   ``postmortem_opening``: the post-mortem is drafted from the timeline and must include
   the resolution.
9. ``reminders`` (IncidentEvent; lane reminders): re-plans the incident's status-update
   reminders from its new facts, then wakes the reminder ticker if one falls due before it.
10. ``postmortem_opening`` (IncidentResolved; lane record): gives the post-mortem its due date
    and its owner's reminder, through `Services.apply`, which writes PostmortemOpened's own
    deliveries (the same event twice is enqueued once).
11. ``postmortem_document`` (PostmortemEvent; lane channel): drafts the document again and
    posts it to the incident's channel, after the notices before it.
12. ``action_items`` (ActionItemEvent; lane channel): announces new items to the channel and
    the owner; says in the channel when one is done.
13. ``setup_failed`` (SetupFailed): tells the declarer that a setup step was given up, with a
    Retry setup button.
14. ``not_updated`` (NotUpdated): when a refresh or notice of a later change (topic, card,
    notices, broadcast line) is given up, tells whoever made the change, privately, which
    surface does not show it and what Slack answered; the others are delivered on their own.
15. ``alerts`` (IncidentDeclared; lane record): links the alert group an incident was
    declared from (its triage message's form) to the incident, and updates that message.
    Idempotent: linking again sets the same values, the message is edited in place.
16. ``drill_score`` (IncidentResolved; lane record; needs the channel): when a drill is
    resolved (or ended with `/incident drill end`), posts its score in its channel, after the
    post-mortem's opening (the score says whether the post-mortem was started). Nothing for
    a real incident. Posted once by its delivery id (`bot.slack.keyed`).

Not an outbox subscriber: ``notice_wakeup`` (`Services.after_commit`) wakes the stakeholder
notice loop in memory once a change commits. The notices themselves are durable rows of
their own source (`Services.recorders` write them in the change's transaction), so a lost
wake-up only delays them to the loop's next tick.
"""

from __future__ import annotations

from bot import reminders
from bot.core.events import (
    ActionItemEvent,
    Delivery,
    IncidentDeclared,
    IncidentEvent,
    IncidentResolved,
    NotUpdated,
    PostmortemEvent,
    RoleAssigned,
    SetupFailed,
    SeverityChanged,
    StatusChanged,
    StatusPagePublished,
    UpdatePosted,
)
from bot.reminders.policy import ReminderPolicy
from bot.slack.action_items import ActionItemSlack
from bot.slack.channel_notices import IncidentNotices
from bot.slack.drills import DrillScore
from bot.slack.jobs import ReminderTicker
from bot.slack.postmortems import PostmortemSlack
from bot.slack.services import Services
from bot.slack.surfaces import IncidentSlack


def install(services: Services, *, reminder_ticker: ReminderTicker | None = None) -> None:
    """Subscribe every feature, in the order and lanes the module docstring gives.

    `reminder_ticker` is the scheduler's reminder loop (bot.slack.jobs.schedule), if it runs.
    """
    bus = services.events
    if bus.subscribers():
        raise RuntimeError("the event bus has subscribers already")
    slack = services.outbox.client()
    surfaces = IncidentSlack(services, slack=slack)
    notices = IncidentNotices(services, slack=slack)
    postmortem_slack = PostmortemSlack(services, slack=slack)
    replan = reminders.subscriber(services.db, ReminderPolicy.from_settings(services.settings))

    def link_alerts(event: IncidentDeclared, delivery: Delivery) -> None:
        services.alerts.on_event(event)

    def plan_reminders(event: IncidentEvent, delivery: Delivery) -> None:
        replan(event, delivery)
        if reminder_ticker is not None:
            reminder_ticker.on_event(event)

    bus.subscribe(
        "channel",
        surfaces.create_channel,
        IncidentDeclared,
        lane="channel",
        barrier=True,
        setup_step="creating the incident channel",
        prompt=True,
    )
    bus.subscribe(
        "members",
        surfaces.invite_people,
        IncidentDeclared,
        RoleAssigned,
        setup_step="inviting people to the channel",
        needs_channel=True,
        prompt=True,
    )
    bus.subscribe(
        "topic",
        surfaces.show_topic,
        IncidentEvent,
        StatusPagePublished,
        lane="topic",
        coalesce=True,
        setup_step="setting the channel topic",
        surface="the channel topic",
        needs_channel=True,
    )
    bus.subscribe(
        "card",
        surfaces.show_card,
        IncidentEvent,
        StatusPagePublished,
        lane="card",
        coalesce=True,
        setup_step="posting the incident card",
        surface="the pinned incident card",
        needs_channel=True,
    )
    bus.subscribe(
        "notices",
        notices.post_notice,
        StatusChanged,
        SeverityChanged,
        RoleAssigned,
        UpdatePosted,
        IncidentResolved,
        StatusPagePublished,
        lane="channel",
        needs_channel=True,
        surface="the notice in the incident channel",
    )
    bus.subscribe(
        "broadcast",
        surfaces.show_broadcast,
        IncidentEvent,
        StatusPagePublished,
        lane="channel",
        coalesce=True,
        setup_step="announcing the incident",
        surface="the line in the broadcast channel",
        needs_channel=True,
    )
    bus.subscribe(
        "checklist",
        notices.send_checklist,
        IncidentDeclared,
        RoleAssigned,
        setup_step="messaging the incident manager",
        needs_channel=True,
    )
    bus.subscribe("timeline", services.timeline.on_event, IncidentEvent, lane="record")
    bus.subscribe("reminders", plan_reminders, IncidentEvent, lane="reminders")
    bus.subscribe(
        "postmortem_opening", postmortem_slack.on_resolved, IncidentResolved, lane="record"
    )
    bus.subscribe(
        "postmortem_document",
        postmortem_slack.on_change,
        PostmortemEvent,
        lane="channel",
        needs_channel=True,
    )
    bus.subscribe(
        "action_items",
        ActionItemSlack(services, slack=slack).on_event,
        ActionItemEvent,
        lane="channel",
        needs_channel=True,
    )
    bus.subscribe("setup_failed", notices.tell_setup_failed, SetupFailed)
    bus.subscribe("not_updated", notices.tell_not_updated, NotUpdated)
    bus.subscribe("alerts", link_alerts, IncidentDeclared, lane="record")
    bus.subscribe(
        "drill_score",
        DrillScore(services, slack=slack).on_resolved,
        IncidentResolved,
        lane="record",
        needs_channel=True,
    )
    if services.notices is not None:  # in memory, after commit: the notices are rows already
        services.after_commit.append(services.notices.on_event)
