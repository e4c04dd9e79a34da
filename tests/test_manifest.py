"""manifest.yml is valid against Slack's official schema and matches what the code handles."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
# Slack's official manifest schema, copied from ../shared/slack so a clean clone can test alone.
SCHEMA = ROOT / "tests" / "fixtures" / "slack" / "manifest.schema.1.0.0.json"
SHARED_SCHEMA = ROOT.parent / "shared" / "slack" / "manifest.schema.1.0.0.json"


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "manifest.yml").read_text())
    return data


def test_manifest_validates_against_slack_schema(manifest: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text())
    as_json = json.loads(json.dumps(manifest))  # what Slack receives: the manifest as JSON
    jsonschema.Draft7Validator(schema).validate(as_json)


def test_schema_rejects_a_broken_manifest(manifest: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text())
    broken = json.loads(json.dumps(manifest))
    broken["features"]["slash_commands"][0]["command"] = "incident"  # no leading slash
    broken["oauth_config"]["scopes"]["bot"].append(42)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(schema).validate(broken)


def test_slash_command_escapes_mentions(manifest: dict[str, Any]) -> None:
    commands = {c["command"]: c for c in manifest["features"]["slash_commands"]}
    assert commands["/incident"]["should_escape"] is True


def test_every_url_is_the_bolt_endpoint(manifest: dict[str, Any]) -> None:
    settings = manifest["settings"]
    urls = {
        settings["event_subscriptions"]["request_url"],
        settings["interactivity"]["request_url"],
        *(c["url"] for c in manifest["features"]["slash_commands"]),
    }
    assert len(urls) == 1 and urls.pop().endswith("/slack/events")


def test_subscribes_to_the_events_the_bot_needs(manifest: dict[str, Any]) -> None:
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert {
        "reaction_added",
        "reaction_removed",
        "message.channels",
        "message.groups",
        "app_home_opened",
    } <= events
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"commands", "chat:write", "channels:manage", "groups:write", "pins:write"} <= scopes


@pytest.mark.skipif(not SHARED_SCHEMA.exists(), reason="no ../shared/slack beside this checkout")
def test_the_copied_schema_is_the_shared_one() -> None:
    assert json.loads(SCHEMA.read_text()) == json.loads(SHARED_SCHEMA.read_text())
