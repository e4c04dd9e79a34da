"""What the bot's messages and forms carry back to it: button values, block ids, metadata.

One small pydantic model per shape. The builders in blocks/ write a shape with `encode()`;
handlers/scope.py reads it with `decode()` (through `of_action` / `of_view`), once per
request. A value that does not parse, whether garbled, from another app or forged, raises
`PayloadError`: a DomainError, so the user gets a clear message and nothing a traceback.

The encodings are the ones the bot has always written (`12`, `12:3`, `incident_card_12`,
`{"incident_id":12}`, ...), so buttons on messages already in Slack and forms opened before an
upgrade keep working. Every encoding stays within Slack's limits: a button value 2,000
characters, a block or action id 255, a view's private_metadata 3,000.
"""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt

from blocks.ids import Action, Callback
from bot.core.errors import DomainError

VALUE_MAX = 2000  # a button's value
ID_MAX = 255  # a block id or an action id
METADATA_MAX = 3000  # a view's private_metadata
_NUMBER = re.compile(r"[0-9]{1,15}")


class PayloadError(DomainError):
    """A value, block id or form metadata that is not one this bot wrote."""


class Payload(BaseModel):
    """One shape: `encode()` for the builders, `decode()` for the listeners."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    LIMIT: ClassVar[int] = VALUE_MAX
    WHAT: ClassVar[str] = "button"

    def encode(self) -> str:
        """The string Slack stores (refused here if it would break Slack's limit)."""
        raw = self._pack()
        if len(raw) > self.LIMIT:
            raise ValueError(f"{type(self).__name__} encodes to {len(raw)} > {self.LIMIT} chars")
        return raw

    @classmethod
    def decode(cls, raw: object) -> Self:
        """The shape `raw` encodes, or PayloadError."""
        if not isinstance(raw, str) or not raw or len(raw) > cls.LIMIT:
            raise cls.refused()
        try:
            return cls._unpack(raw)
        except ValueError:  # pydantic's ValidationError is a ValueError too
            raise cls.refused() from None

    @classmethod
    def refused(cls) -> PayloadError:
        """The error a `raw` that is not this shape gives."""
        return PayloadError(
            f"That {cls.WHAT} is not one the incident bot made, or it comes from a version it "
            "no longer reads. Nothing was changed; use the latest message, or `/incident help`."
        )

    @property
    def incident_ref(self) -> int | None:
        """The incident this payload names, if it names one."""
        value = getattr(self, "incident_id", None)
        return value if isinstance(value, int) else None

    def _pack(self) -> str:
        raise NotImplementedError

    @classmethod
    def _unpack(cls, raw: str) -> Self:
        raise NotImplementedError


class _Numbers(Payload):
    """Whole numbers joined by `:` after a fixed prefix: `12`, `12:3`, `incident_card_12`."""

    PREFIX: ClassVar[str] = ""

    def _pack(self) -> str:
        return self.PREFIX + ":".join(str(getattr(self, name)) for name in type(self).model_fields)

    @classmethod
    def _unpack(cls, raw: str) -> Self:
        if not raw.startswith(cls.PREFIX):
            raise ValueError(raw)
        parts = raw[len(cls.PREFIX) :].split(":")
        names = list(cls.model_fields)
        if len(parts) != len(names) or not all(_NUMBER.fullmatch(part) for part in parts):
            raise ValueError(raw)
        return cls.model_validate(dict(zip(names, map(int, parts), strict=True)))


class _Json(Payload):
    """A view's private_metadata: compact, ASCII-only JSON (unknown keys are ignored)."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    LIMIT: ClassVar[int] = METADATA_MAX
    WHAT: ClassVar[str] = "form"

    def _pack(self) -> str:
        return json.dumps(self.model_dump(mode="json", exclude_none=True), separators=(",", ":"))

    @classmethod
    def _unpack(cls, raw: str) -> Self:
        return cls.model_validate_json(raw)


# -- button values -------------------------------------------------------------------------


class IncidentValue(_Numbers):
    """A button about one incident (Post update, Resolve, Download, ...): `12`."""

    incident_id: PositiveInt


class DeliveryValue(_Numbers):
    """The Retry button of one outbox delivery in `/incident admin deliveries`: `<row id>`."""

    delivery_id: PositiveInt


class SocialValue(_Numbers):
    """Post / Edit / Skip on a Mastodon post's preview: `<incident>:<post notice id>`."""

    incident_id: PositiveInt
    post_id: PositiveInt


class SocialForm(_Json, SocialValue):
    """The same in the Edit form's private_metadata: `{"incident_id":12,"post_id":3}`."""


class PageValue(_Numbers):
    """Earlier / Later on a timeline page: `<incident>:<page>`, pages from 0."""

    incident_id: PositiveInt
    page: NonNegativeInt


class SnoozeValue(_Numbers):
    """A reminder's snooze button: `<incident>:<minutes>`."""

    incident_id: PositiveInt
    minutes: PositiveInt


class ItemValue(_Numbers):
    """Mark done on an action item: `<item>`."""

    item_id: PositiveInt


# -- block ids -----------------------------------------------------------------------------


class CardBlockId(_Numbers):
    """The card's row of controls, which the status and severity selects are read from."""

    PREFIX: ClassVar[str] = "incident_card_"
    LIMIT: ClassVar[int] = ID_MAX
    WHAT: ClassVar[str] = "control"

    incident_id: PositiveInt


class ListBlockId(Payload):
    """An action item on a list: `ai_mine_<item>` or `ai_inc<incident>_<item>`.

    Mark done shows the same list again; `incident_id` None is the clicker's own list.
    """

    PREFIX: ClassVar[str] = "ai_"
    LIMIT: ClassVar[int] = ID_MAX
    WHAT: ClassVar[str] = "list"
    SHAPE: ClassVar[re.Pattern[str]] = re.compile(r"ai_(?:mine|inc([0-9]{1,15}))_([0-9]{1,15})")

    incident_id: PositiveInt | None
    item_id: PositiveInt

    def _pack(self) -> str:
        scope = "mine" if self.incident_id is None else f"inc{self.incident_id}"
        return f"{self.PREFIX}{scope}_{self.item_id}"

    @classmethod
    def _unpack(cls, raw: str) -> Self:
        match = cls.SHAPE.fullmatch(raw)
        if match is None:
            raise ValueError(raw)
        incident, item = match.groups()
        return cls(incident_id=int(incident) if incident else None, item_id=int(item))


class _KeyBlockId(Payload):
    """A section whose block id carries a delivery's unique key, found again in the history."""

    PREFIX: ClassVar[str]
    LIMIT: ClassVar[int] = ID_MAX
    WHAT: ClassVar[str] = "message"

    key: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$")

    def _pack(self) -> str:
        return self.PREFIX + self.key

    @classmethod
    def _unpack(cls, raw: str) -> Self:
        if not raw.startswith(cls.PREFIX):
            raise ValueError(raw)
        return cls(key=raw[len(cls.PREFIX) :])

    @classmethod
    def find(cls, message: dict[str, Any]) -> str | None:
        """The key of a message from `conversations.history`, if it is one of these."""
        for block in message.get("blocks") or []:
            block_id = block.get("block_id")
            if block.get("type") == "section" and str(block_id or "").startswith(cls.PREFIX):
                try:
                    return cls.decode(block_id).key
                except PayloadError:
                    continue
        return None


class ReminderKeyBlockId(_KeyBlockId):
    """A status-update reminder or no-manager nudge in an incident channel: `reminder_<key>`."""

    PREFIX: ClassVar[str] = "reminder_"


class FollowUpKeyBlockId(_KeyBlockId):
    """An owner's follow-up reminder in a direct message: `followup_<key>`."""

    PREFIX: ClassVar[str] = "followup_"


# -- private_metadata ----------------------------------------------------------------------


class IncidentForm(_Json):
    """A form about one incident (update, resolve, assign a role, edit post-mortem)."""

    incident_id: PositiveInt


class DeclareOrigin(_Json):
    """The declare form; from the message shortcut, the message it was declared from."""

    channel: str | None = Field(default=None, max_length=32)
    ts: str | None = Field(default=None, max_length=32)
    permalink: str | None = Field(default=None, max_length=1000)


class ActionItemForm(_Json):
    """Create action item: the message it came from; its incident when asked from inside one."""

    channel: str | None = Field(default=None, max_length=32)
    ts: str | None = Field(default=None, max_length=32)
    permalink: str | None = Field(default=None, max_length=1000)
    incident_id: PositiveInt | None = None


class MessageCopy(BaseModel):
    """What the timeline keeps of a shared message (its text cut to fit the metadata)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    ts: str = Field(min_length=1, max_length=32)
    thread_ts: str | None = Field(default=None, max_length=32)
    user: str | None = Field(default=None, max_length=32)
    bot_id: str | None = Field(default=None, max_length=32)
    username: str | None = Field(default=None, max_length=100)
    edited: dict[str, Any] | None = None
    text: str = ""


class SharedMessage(_Json):
    """The "Add to timeline" shortcut outside an incident: the message, until one is picked."""

    FILES_MAX: ClassVar[int] = 20
    FILE_NAME_MAX: ClassVar[int] = 100

    channel: str = Field(min_length=1, max_length=32)
    response_url: str | None = Field(default=None, max_length=500)
    message: MessageCopy
    files: list[str] = Field(default_factory=list, max_length=FILES_MAX)

    @classmethod
    def of(
        cls,
        *,
        channel: str,
        message: dict[str, Any],
        files: list[str],
        response_url: str | None,
    ) -> SharedMessage:
        """The message as the shortcut received it (its text is cut later, by `encode`)."""
        kept = {key: message[key] for key in MessageCopy.model_fields if message.get(key)}
        return cls(
            channel=channel,
            response_url=response_url,
            message=MessageCopy.model_validate({"text": "", **kept}),
            files=[name[: cls.FILE_NAME_MAX] for name in files[: cls.FILES_MAX]],
        )

    def _pack(self) -> str:
        text = self.message.text
        while True:
            copy = self.model_copy(
                update={"message": self.message.model_copy(update={"text": text})}
            )
            packed = _Json._pack(copy)
            if len(packed) <= METADATA_MAX or not text:
                return packed
            # JSON spends 1 to 12 characters on one of the text's: cut as many characters as
            # the excess, but at most half the text at a time.
            text = text[: max(len(text) - (len(packed) - METADATA_MAX) - 1, len(text) // 2)]

    def message_with_files(self) -> dict[str, Any]:
        """The message as bot.slack.timeline_capture reads one."""
        data = self.message.model_dump(exclude_none=True)
        return {**data, "files": [{"name": name} for name in self.files]}


# -- which action and which form carries which shape --------------------------------------

_BY_VALUE: dict[str, type[_Numbers]] = {
    **dict.fromkeys(
        (
            *(Action.POST_UPDATE, Action.ASSIGN_ROLE, Action.RESOLVE, Action.RETRY_SETUP),
            *(Action.TIMELINE_DOWNLOAD, Action.POSTMORTEM_EDIT, Action.POSTMORTEM_COMPLETE),
            *(Action.EMAIL_MANAGERS, Action.RETRY_NOTICES, Action.ACKNOWLEDGE_INCIDENT),
        ),
        IncidentValue,
    ),
    Action.RETRY_DELIVERY: DeliveryValue,
    **dict.fromkeys((Action.SOCIAL_POST, Action.SOCIAL_EDIT, Action.SOCIAL_SKIP), SocialValue),
    Action.TIMELINE_EARLIER: PageValue,
    Action.TIMELINE_LATER: PageValue,
}
_BY_BLOCK: dict[str, type[_Numbers]] = {
    Action.SET_STATUS: CardBlockId,
    Action.SET_SEVERITY: CardBlockId,
}
_BY_CALLBACK: dict[str, type[_Json]] = {
    Callback.DECLARE_MODAL: DeclareOrigin,
    Callback.UPDATE_MODAL: IncidentForm,
    Callback.RESOLVE_MODAL: IncidentForm,
    Callback.ROLE_MODAL: IncidentForm,
    Callback.POSTMORTEM_MODAL: IncidentForm,
    Callback.STATUSPAGE_MODAL: IncidentForm,
    Callback.TIMELINE_PICK_MODAL: SharedMessage,
    Callback.ACTION_ITEM_MODAL: ActionItemForm,
    Callback.SOCIAL_MODAL: SocialForm,
}
SNOOZE_PREFIX = f"{Action.SNOOZE_REMINDER.value}_"


def of_action(action: dict[str, Any]) -> Payload | None:
    """What a click on one of the bot's controls carries (None for a control that carries
    nothing, such as the Home tab's Declare button)."""
    action_id = str(action.get("action_id") or "")
    if action_id in _BY_VALUE:
        return _BY_VALUE[action_id].decode(action.get("value"))
    if action_id in _BY_BLOCK:
        return _BY_BLOCK[action_id].decode(action.get("block_id"))
    if action_id.startswith(SNOOZE_PREFIX):
        return SnoozeValue.decode(action.get("value"))
    if action_id == Action.ACTION_ITEM_DONE:
        return _done(action)
    return None


def _done(action: dict[str, Any]) -> ItemValue | ListBlockId:
    """Mark done: the item, and the list it is on when it is on one."""
    item = ItemValue.decode(action.get("value"))
    block_id = str(action.get("block_id") or "")
    if not block_id.startswith(ListBlockId.PREFIX):
        return item  # a direct message or a reminder
    listed = ListBlockId.decode(block_id)
    if listed.item_id != item.item_id:
        raise ItemValue.refused()
    return listed


def of_view(view: dict[str, Any]) -> Payload | None:
    """What a submitted form carries in its private_metadata (None for a form of no one's)."""
    shape = _BY_CALLBACK.get(str(view.get("callback_id") or ""))
    if shape is None:
        return None
    return shape.decode(view.get("private_metadata") or "{}")
