"""Who will be notified: what the declare and update forms show before they are submitted."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.vocabulary import Severity
from bot.stakeholders.config import Group, Trigger, Via
from bot.stakeholders.planning import NoticePolicy

VIA_LABELS = {Via.SLACK: "DM", Via.INVITE: "invite", Via.EMAIL: "e-mail", Via.SMS: "SMS"}


@dataclass(frozen=True)
class GroupPreview:
    """One group and how many of its addresses each channel reaches."""

    name: str
    counts: tuple[tuple[str, int], ...]
    severities: tuple[str, ...] = ()  # the severities it hears about (empty: every one)
    sms_only_at: tuple[str, ...] = ()  # SMS goes out only at these severities

    @property
    def line(self) -> str:
        """`Management: 2 DM, 2 e-mail (SEV1, SEV2 only)`."""
        counts = ", ".join(f"{n} {label}" for label, n in self.counts)
        limits = f" ({', '.join(self.severities)} only)" if self.severities else ""
        sms = f"; SMS at {', '.join(self.sms_only_at)}" if self.sms_only_at else ""
        return f"{self.name}: {counts}{sms}{limits}"


def _counts(group: Group, vias: list[Via]) -> tuple[tuple[str, int], ...]:
    return tuple(
        (VIA_LABELS[via], len(group.addresses(via))) for via in vias if group.addresses(via)
    )


def for_update(policy: NoticePolicy, *, trigger: Trigger, severity: Severity) -> list[GroupPreview]:
    """The groups an event of an incident at `severity` reaches, with their counts."""
    found = []
    for group in policy.directory.groups:
        if not group.concerns(severity, frozenset()):
            continue
        counts = _counts(group, group.vias(trigger, severity))
        if counts:
            found.append(GroupPreview(group.name, counts))
    return found


def for_declaration(policy: NoticePolicy) -> list[GroupPreview]:
    """The groups a declaration reaches, at the severities each one hears about."""
    found = []
    for group in policy.directory.groups:
        every = [s for s in Severity if group.concerns(s, frozenset())]
        vias = list(dict.fromkeys(v for s in every for v in group.vias(Trigger.DECLARED, s)))
        counts = _counts(group, vias)
        if not counts:
            continue
        sms_at = [s for s in every if Via.SMS in group.vias(Trigger.DECLARED, s)]
        limited = tuple(s.label for s in every) if len(every) < len(Severity) else ()
        sms_only = (
            tuple(s.label for s in sms_at)
            if group.addresses(Via.SMS) and sms_at and len(sms_at) < len(every)
            else ()
        )
        found.append(GroupPreview(group.name, counts, limited, sms_only))
    return found
