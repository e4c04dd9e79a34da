"""Callback, block and action ids shared by the builders and the listeners."""

from __future__ import annotations

from enum import StrEnum


class Command(StrEnum):
    """Slash commands."""

    INCIDENT = "/incident"


class Callback(StrEnum):
    """Modal callback ids and shortcut callback ids (the latter also in manifest.yml)."""

    DECLARE_MODAL = "declare_modal"
    UPDATE_MODAL = "update_modal"
    RESOLVE_MODAL = "resolve_modal"
    ROLE_MODAL = "role_modal"
    DECLARE_SHORTCUT = "declare_incident"
    DECLARE_FROM_MESSAGE = "declare_incident_from_message"
    ADD_TO_TIMELINE = "add_to_timeline"
    CREATE_ACTION_ITEM = "create_action_item"
    TIMELINE_PICK_MODAL = "timeline_pick_incident"
    ACTION_ITEM_MODAL = "action_item_modal"
    POSTMORTEM_MODAL = "postmortem_modal"
    STATUSPAGE_MODAL = "statuspage_modal"
    MAINTENANCE_MODAL = "maintenance_modal"
    SOCIAL_MODAL = "social_post_modal"


class Action(StrEnum):
    """Action ids of buttons and selects on messages and the App Home."""

    POST_UPDATE = "incident_post_update"
    SET_STATUS = "incident_set_status"
    SET_SEVERITY = "incident_set_severity"
    ASSIGN_ROLE = "incident_assign_role"
    RESOLVE = "incident_resolve"
    RETRY_SETUP = "incident_retry_setup"
    HOME_DECLARE = "home_declare"
    # Reminder snooze buttons: "reminder_snooze_<minutes>" (see blocks.reminders).
    SNOOZE_REMINDER = "reminder_snooze"
    TIMELINE_EARLIER = "timeline_earlier"
    TIMELINE_LATER = "timeline_later"
    TIMELINE_DOWNLOAD = "timeline_download"
    ACTION_ITEM_DONE = "action_item_done"
    POSTMORTEM_EDIT = "postmortem_edit"
    POSTMORTEM_COMPLETE = "postmortem_complete"
    RETRY_DELIVERY = "outbox_retry_delivery"
    EMAIL_MANAGERS = "incident_email_managers"
    RETRY_NOTICES = "incident_retry_notices"
    SOCIAL_POST = "social_post"
    SOCIAL_EDIT = "social_edit"
    SOCIAL_SKIP = "social_skip"
    ACKNOWLEDGE_INCIDENT = "incident_acknowledge"


class Field(StrEnum):
    """Input block ids of modals; each input's action id is the same string."""

    TITLE = "title"
    SEVERITY = "severity"
    SUMMARY = "summary"
    IMPACT = "impact"
    MANAGER = "manager"
    PRIVATE = "private"
    DRILL = "drill"
    MESSAGE = "message"
    STATUS = "status"
    RESOLUTION = "resolution"
    ROLE = "role"
    USER = "user"
    INCIDENT = "incident"
    TEXT = "text"
    OWNER = "owner"
    DUE = "due"
    ROOT_CAUSE = "root_cause"
    QUIET = "quiet"
