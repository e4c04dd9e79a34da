"""Insights: how long incidents take to acknowledge, identify, mitigate and resolve.

Figures come from the incidents' milestone timestamps and are computed in the database
(aggregate queries; medians and 90th percentiles with window functions or
`percentile_cont`), never by loading every incident into Python. See `figures`.
"""

from __future__ import annotations

from bot.core.errors import InvalidInput

STATS_PERIODS = (7, 30, 90, 180, 365)


def parse_period(text: str) -> int:
    """`/incident stats [30d|90d]`: the number of days ('' is 30), or InvalidInput."""
    value = (text or "").strip().lower()
    if not value:
        return 30
    digits = value[:-1] if value.endswith("d") else value
    if digits.isdigit() and int(digits) in STATS_PERIODS:
        return int(digits)
    raise InvalidInput(
        f"Unknown period `{text.strip()}`. Use `/incident stats 30d` or `/incident stats 90d` "
        f"(also {', '.join(f'{d}d' for d in STATS_PERIODS if d not in (30, 90))})."
    )
