"""Block Kit validation with Slack's limits and Slack's error wording.

Slack answers ``chat.*`` with ``invalid_blocks`` (``errors`` plus ``response_metadata.messages``)
and ``views.*`` with ``invalid_arguments``; each line reads like
``[ERROR] must be less than 51 items [json-pointer:/blocks]``.
"""

from __future__ import annotations

from typing import Any

from .errors import SlackError

MESSAGE_MAX_BLOCKS = 50
VIEW_MAX_BLOCKS = 100
TEXT_TYPES = ("plain_text", "mrkdwn")
BLOCK_TYPES = frozenset(
    {
        "actions",
        "context",
        "divider",
        "file",
        "header",
        "image",
        "input",
        "markdown",
        "rich_text",
        "section",
        "video",
        "table",
        "context_actions",
    }
)
ELEMENT_TYPES = frozenset(
    {
        "button",
        "checkboxes",
        "datepicker",
        "datetimepicker",
        "email_text_input",
        "file_input",
        "image",
        "number_input",
        "overflow",
        "plain_text_input",
        "radio_buttons",
        "rich_text_input",
        "timepicker",
        "url_text_input",
        "workflow_button",
        "static_select",
        "external_select",
        "users_select",
        "conversations_select",
        "channels_select",
        "multi_static_select",
        "multi_external_select",
        "multi_users_select",
        "multi_conversations_select",
        "multi_channels_select",
        "feedback_buttons",
        "icon_button",
    }
)
#: Most options an element type takes (option text max 75, option value max 150 chars).
OPTION_LIMITS = {
    "static_select": 100,
    "multi_static_select": 100,
    "overflow": 5,
    "checkboxes": 10,
    "radio_buttons": 10,
}


class _Validator:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def err(self, message: str, pointer: str) -> None:
        self.errors.append(f"{message} [json-pointer:{pointer}]")

    def max_chars(self, value: Any, limit: int, pointer: str) -> None:
        if isinstance(value, str) and len(value) > limit:
            self.err(f"must be less than {limit + 1} characters", pointer)

    def max_items(self, value: Any, limit: int, pointer: str) -> bool:
        if not isinstance(value, list):
            self.err("must be an array", pointer)
            return False
        if len(value) > limit:
            self.err(f"must be less than {limit + 1} items", pointer)
        return True

    def text(self, obj: Any, pointer: str, limit: int, *, plain: bool = False) -> None:
        if not isinstance(obj, dict):
            self.err("must be an object", pointer)
            return
        kind = obj.get("type")
        if kind not in (("plain_text",) if plain else TEXT_TYPES):
            self.err("must be a valid enum value", f"{pointer}/type")
        value = obj.get("text")
        if not isinstance(value, str):
            self.err("missing required field: text", pointer)
            return
        if not value:
            self.err("must be more than 0 characters", f"{pointer}/text")
        self.max_chars(value, limit, f"{pointer}/text")

    # ------------------------------------------------------------------ blocks

    def blocks(self, blocks: Any, pointer: str, limit: int) -> None:
        if not self.max_items(blocks, limit, pointer):
            return
        seen: set[str] = set()
        for index, block in enumerate(blocks):
            self.block(block, f"{pointer}/{index}", seen)

    def block(self, block: Any, pointer: str, seen: set[str]) -> None:
        if not isinstance(block, dict):
            self.err("must be an object", pointer)
            return
        kind = block.get("type")
        if not kind:
            self.err("missing required field: type", pointer)
            return
        if kind not in BLOCK_TYPES:
            self.err(f"unsupported type: {kind}", f"{pointer}/type")
            return
        block_id = block.get("block_id")
        if block_id is not None:
            if not isinstance(block_id, str):
                self.err("must be a string", f"{pointer}/block_id")
            else:
                self.max_chars(block_id, 255, f"{pointer}/block_id")
                if block_id in seen:
                    self.err(f"duplicate block_id: {block_id}", f"{pointer}/block_id")
                seen.add(block_id)
        check = getattr(self, f"block_{kind}", None)
        if check is not None:
            check(block, pointer)

    def block_section(self, block: dict[str, Any], pointer: str) -> None:
        if "text" not in block and "fields" not in block:
            self.err("must define either `text` or `fields`", f"{pointer}/type")
        if "text" in block:
            self.text(block["text"], f"{pointer}/text", 3000)
        if "fields" in block and self.max_items(block["fields"], 10, f"{pointer}/fields"):
            for i, field in enumerate(block["fields"]):
                self.text(field, f"{pointer}/fields/{i}", 2000)
        if "accessory" in block:
            self.element(block["accessory"], f"{pointer}/accessory", set())

    def block_header(self, block: dict[str, Any], pointer: str) -> None:
        if "text" not in block:
            self.err("missing required field: text", pointer)
            return
        self.text(block["text"], f"{pointer}/text", 150, plain=True)

    def block_image(self, block: dict[str, Any], pointer: str) -> None:
        if "image_url" not in block and "slack_file" not in block:
            self.err("missing required field: image_url", pointer)
        self.max_chars(block.get("image_url"), 3000, f"{pointer}/image_url")
        if "alt_text" not in block:
            self.err("missing required field: alt_text", pointer)
        self.max_chars(block.get("alt_text"), 2000, f"{pointer}/alt_text")
        if "title" in block:
            self.text(block["title"], f"{pointer}/title", 2000, plain=True)

    def block_context(self, block: dict[str, Any], pointer: str) -> None:
        elements = block.get("elements")
        if elements is None:
            self.err("missing required field: elements", pointer)
            return
        if self.max_items(elements, 10, f"{pointer}/elements"):
            for i, element in enumerate(elements):
                where = f"{pointer}/elements/{i}"
                if isinstance(element, dict) and element.get("type") == "image":
                    self.element(element, where, set())
                else:
                    self.text(element, where, 3000)

    def block_actions(self, block: dict[str, Any], pointer: str) -> None:
        elements = block.get("elements")
        if elements is None:
            self.err("missing required field: elements", pointer)
            return
        if self.max_items(elements, 25, f"{pointer}/elements"):
            if not elements:
                self.err("must provide at least 1 items", f"{pointer}/elements")
            action_ids: set[str] = set()
            for i, element in enumerate(elements):
                self.element(element, f"{pointer}/elements/{i}", action_ids)

    def block_input(self, block: dict[str, Any], pointer: str) -> None:
        if "label" not in block:
            self.err("missing required field: label", pointer)
        else:
            self.text(block["label"], f"{pointer}/label", 2000, plain=True)
        if "hint" in block:
            self.text(block["hint"], f"{pointer}/hint", 2000, plain=True)
        if "element" not in block:
            self.err("missing required field: element", pointer)
        else:
            self.element(block["element"], f"{pointer}/element", set())

    def block_markdown(self, block: dict[str, Any], pointer: str) -> None:
        if not isinstance(block.get("text"), str):
            self.err("missing required field: text", pointer)
        self.max_chars(block.get("text"), 12000, f"{pointer}/text")

    def block_rich_text(self, block: dict[str, Any], pointer: str) -> None:
        if not isinstance(block.get("elements"), list):
            self.err("missing required field: elements", pointer)

    # ------------------------------------------------------------------ elements

    def element(self, element: Any, pointer: str, action_ids: set[str]) -> None:
        if not isinstance(element, dict):
            self.err("must be an object", pointer)
            return
        kind = element.get("type")
        if kind not in ELEMENT_TYPES:
            self.err(f"unsupported type: {kind}", f"{pointer}/type")
            return
        action_id = element.get("action_id")
        if isinstance(action_id, str):
            self.max_chars(action_id, 255, f"{pointer}/action_id")
            if action_id in action_ids:
                self.err(f"duplicate action_id: {action_id}", f"{pointer}/action_id")
            action_ids.add(action_id)
        if "placeholder" in element:
            self.text(element["placeholder"], f"{pointer}/placeholder", 150, plain=True)
        if kind == "button":
            if "text" not in element:
                self.err("missing required field: text", pointer)
            else:
                self.text(element["text"], f"{pointer}/text", 75, plain=True)
            self.max_chars(element.get("value"), 2000, f"{pointer}/value")
            self.max_chars(element.get("url"), 3000, f"{pointer}/url")
            if element.get("style") not in (None, "primary", "danger"):
                self.err("must be a valid enum value", f"{pointer}/style")
        if kind == "image":
            self.max_chars(element.get("alt_text"), 2000, f"{pointer}/alt_text")
        if kind == "plain_text_input":
            for key in ("max_length", "min_length"):
                value = element.get(key)
                if isinstance(value, int) and value > 3000:
                    self.err("must be less than 3001", f"{pointer}/{key}")
        if kind in OPTION_LIMITS and "options" in element:
            self.options(element["options"], f"{pointer}/options", OPTION_LIMITS[kind])

    def options(self, options: Any, pointer: str, limit: int) -> None:
        if not self.max_items(options, limit, pointer):
            return
        for i, option in enumerate(options):
            if not isinstance(option, dict):
                self.err("must be an object", f"{pointer}/{i}")
                continue
            if "text" in option:
                self.text(option["text"], f"{pointer}/{i}/text", 75)
            self.max_chars(option.get("value"), 150, f"{pointer}/{i}/value")

    # ------------------------------------------------------------------ views

    def view(self, view: Any, pointer: str, expected: str | None) -> None:
        if not isinstance(view, dict):
            self.err("must be an object", pointer)
            return
        kind = view.get("type")
        if kind not in ("modal", "home") or (expected and kind != expected):
            self.err("must be a valid enum value", f"{pointer}/type")
        if kind == "modal" and "title" not in view:
            self.err("missing required field: title", pointer)
        for key in ("title", "submit", "close"):
            if view.get(key) is not None:
                self.text(view[key], f"{pointer}/{key}", 24, plain=True)
        if "blocks" not in view:
            self.err("missing required field: blocks", pointer)
        else:
            self.blocks(view["blocks"], f"{pointer}/blocks", VIEW_MAX_BLOCKS)
            has_input = any(
                isinstance(b, dict) and b.get("type") == "input"
                for b in (view["blocks"] if isinstance(view["blocks"], list) else [])
            )
            if kind == "modal" and has_input and not view.get("submit"):
                self.err("must provide a submit property when using input blocks", pointer)
        self.max_chars(view.get("private_metadata"), 3000, f"{pointer}/private_metadata")
        self.max_chars(view.get("callback_id"), 255, f"{pointer}/callback_id")
        self.max_chars(view.get("external_id"), 255, f"{pointer}/external_id")


def block_errors(
    blocks: Any, *, pointer: str = "/blocks", limit: int = MESSAGE_MAX_BLOCKS
) -> list[str]:
    validator = _Validator()
    validator.blocks(blocks, pointer, limit)
    return validator.errors


def view_errors(view: Any, *, expected_type: str | None = None) -> list[str]:
    validator = _Validator()
    validator.view(view, "/view", expected_type)
    return validator.errors


def check_message_blocks(blocks: Any) -> None:
    """Raise ``invalid_blocks`` (or ``invalid_blocks_format``) as ``chat.*`` methods do."""
    if blocks is None:
        return
    if not isinstance(blocks, list):
        raise SlackError("invalid_blocks_format")
    errors = block_errors(blocks)
    if errors:
        raise SlackError(
            "invalid_blocks",
            extra={
                "errors": errors,
                "response_metadata": {"messages": [f"[ERROR] {e}" for e in errors]},
            },
        )


def check_view(view: Any, *, expected_type: str | None = None) -> dict[str, Any]:
    """Raise ``invalid_arguments`` as ``views.*`` methods do; return the view when valid."""
    errors = view_errors(view, expected_type=expected_type)
    if errors:
        messages = ["[ERROR] failed to match all allowed schemas [json-pointer:/view]"]
        messages += [f"[ERROR] {e}" for e in errors]
        raise SlackError("invalid_arguments", extra={"response_metadata": {"messages": messages}})
    assert isinstance(view, dict)
    return view
