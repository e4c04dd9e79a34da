"""A Mastodon post's preview in the incident channel, and the form that edits its text.

The preview shows the text exactly as typed (a plain_text block: never markup) with Post /
Edit / Skip while nobody has decided, and in place of the buttons, once someone has, what
became of it and who decided. The post's text is public words people typed: plain text only.
"""

from __future__ import annotations

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from blocks.ids import Action, Callback, Field
from blocks.payloads import SocialForm, SocialValue
from blocks.text import escape, truncate
from bot.stakeholders.social import Post
from bot.stakeholders.wording import MASTODON_MAX

TEXT_MAX = 2900  # a section's plain text, with room to spare


def preview_text(post: Post, *, number: int) -> str:
    """The preview's fallback text."""
    return f"Mastodon post for incident #{number}: {escape(outcome(post))}"


def outcome(post: Post) -> str:
    """What became of the post, in words (plain text)."""
    who = f" by {post.decided_by}" if post.decided_by else ""
    if post.state == "held":
        return "waiting for the incident manager to approve"
    if post.state == "skipped":
        return f"skipped{who}"
    if post.state == "sent":
        return f"posted{who}"
    if post.given_up:
        return f"approved{who}, but Mastodon refused it: {post.error or 'unknown error'}"
    return f"approved{who}, posting"


def preview_blocks(post: Post, *, number: int, manager: str | None) -> list[Block]:
    """The preview: the text, then the buttons (undecided) or the outcome and who decided."""
    asked = f"<@{manager}>, " if manager else ""
    head = (
        f":mega: {asked}a status page update of incident #{number} can go to Mastodon. "
        "Nothing is posted until the incident manager approves."
    )
    result: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=head)),
        SectionBlock(text=PlainTextObject(text=truncate(post.text, TEXT_MAX) or " ", emoji=False)),
    ]
    if post.state == "held":
        value = SocialValue(incident_id=post.incident_id, post_id=post.id).encode()
        result.append(
            ActionsBlock(
                elements=[
                    ButtonElement(
                        text="Post", action_id=Action.SOCIAL_POST, value=value, style="primary"
                    ),
                    ButtonElement(text="Edit", action_id=Action.SOCIAL_EDIT, value=value),
                    ButtonElement(text="Skip", action_id=Action.SOCIAL_SKIP, value=value),
                ]
            )
        )
        return result
    who = f" by <@{post.decided_by}>" if post.decided_by else ""
    if post.state == "skipped":
        line = f":no_entry_sign: Skipped{who}: not posted to Mastodon."
    elif post.state == "sent":
        link = f" <{escape(post.url)}|View on Mastodon>" if post.url else ""
        line = f":white_check_mark: Posted to Mastodon{who}.{link}"
    elif post.given_up:
        error = escape(truncate(post.error or "unknown error", 300))
        line = f":warning: Approved{who}, but Mastodon refused it: {error}"
    else:
        line = f":hourglass_flowing_sand: Approved{who}; posting to Mastodon."
    result.append(ContextBlock(elements=[MarkdownTextObject(text=line)]))
    return result


def edit_modal(post: Post) -> View:
    """Edit the post's text, then post it."""
    metadata = SocialForm(incident_id=post.incident_id, post_id=post.id).encode()
    return View(
        type="modal",
        callback_id=Callback.SOCIAL_MODAL,
        private_metadata=metadata,
        title=PlainTextObject(text="Post to Mastodon"),
        submit=PlainTextObject(text="Post"),
        close=PlainTextObject(text="Cancel"),
        blocks=[
            InputBlock(
                block_id=Field.TEXT,
                label=PlainTextObject(text="Text of the post"),
                hint=PlainTextObject(
                    text=f"At most {MASTODON_MAX} characters; each link counts as 23."
                ),
                element=PlainTextInputElement(
                    action_id=Field.TEXT,
                    multiline=True,
                    initial_value=truncate(post.text, 3000),
                    max_length=3000,
                ),
            )
        ],
    )
