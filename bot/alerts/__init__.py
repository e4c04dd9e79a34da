"""Alerts from monitoring tools: parsing, deduplication, grouping, rules, on-call, escalation.

`model` is the one shape every source is turned into; `parsers` and `mapping` read the
senders' payloads; `auth` checks their credentials; `intake` stores a delivery; `rules`
reads ALERT_RULES_FILE (rules, escalation policies, on-call schedules, mappings);
`oncall` and `escalation` answer who is on call and which level is due at a given time.
Nothing here calls Slack or reads a clock it was not given.
"""
