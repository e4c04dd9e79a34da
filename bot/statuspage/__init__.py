"""The public status page: components, public incidents, maintenance, uptime, subscribers.

The domain of the status page (no Slack, no web): `config` reads STATUS_PAGE_FILE,
`components` keeps component rows and their status history, `publish` puts incidents on
the page inside the incident change's transaction, `maintenance` runs scheduled maintenance
on a clock it is given, `uptime` sums 90 days per component in the database, `snapshot`
reads what the public may see, `subscriptions` and `mails` handle e-mail subscribers, and
`state` keeps the version counter every replica's cache watches.
"""

from bot.statuspage.config import PageConfig, StatusPageConfigError
from bot.statuspage.vocabulary import ComponentStatus, Impact, MaintenanceStatus, PublicStatus

__all__ = [
    "ComponentStatus",
    "Impact",
    "MaintenanceStatus",
    "PageConfig",
    "PublicStatus",
    "StatusPageConfigError",
]
