"""Insights: how long incidents take to acknowledge, identify, mitigate and resolve.

Figures come from the incidents' milestone timestamps and are computed in the database
(aggregate queries; medians and 90th percentiles with window functions or
`percentile_cont`), never by loading every incident into Python. See `figures`.
"""
