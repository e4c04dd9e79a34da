"""The incident bot's domain: incidents, roles, timeline, reminders, post-mortems.

Nothing in this package imports slack_bolt: handlers translate Slack requests into calls here.
"""
