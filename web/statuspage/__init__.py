"""The public status page on the bot's own web server: HTML, Statuspage API v2, feeds,
embed, badge and e-mail subscriptions (see StatusPageSite), plus a static export."""
