"""What a log line is about, for structured logs (LOG_FORMAT=json): context variables.

`incident_id` is set while the event bus delivers an incident's event; `request_kind` while
a Slack request is handled; `slack_error` after a Slack Web API call failed (cleared by the
next call that succeeds). Nothing here logs; web.observability's JSON formatter reads them.
"""

from __future__ import annotations

from contextvars import ContextVar

incident_id: ContextVar[int | None] = ContextVar("incident_id", default=None)
request_kind: ContextVar[str | None] = ContextVar("request_kind", default=None)
slack_error: ContextVar[tuple[str, str] | None] = ContextVar("slack_error", default=None)
