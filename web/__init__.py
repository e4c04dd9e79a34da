"""The one HTTP server: Slack requests, health, and (later) status page and alert webhooks."""
