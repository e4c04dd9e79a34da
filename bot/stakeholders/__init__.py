"""Stakeholder notices: who outside the incident channel is told what, and how.

Groups come from STAKEHOLDERS_FILE (`config`), receivers of signed JSON from WEBHOOKS_FILE
(`webhooks`). Every committed incident change plans its notices in the same transaction
(`planning`); people can also notify a group now or email the managers (`actions`). Rows are
sent one at a time under a lease (`claims`) by the senders in bot/outbound and bot/slack.
"""
