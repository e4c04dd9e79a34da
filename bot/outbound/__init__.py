"""Senders for everything that is not Slack: e-mail, SMS, social media, outbound webhooks.

They sit beside the Slack side (bot/slack): the delivery engine hands them one item at a time,
and each answers sent, retryable or permanent failure.
"""
