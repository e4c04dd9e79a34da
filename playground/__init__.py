"""The playground: Slack's side of the bot, built in.

`playground.emulator` is a stateful fake of Slack (real HTTP, signed requests) that the tests
use and that `scripts/start` without Slack credentials runs the bot against; `playground.sinks`
captures mail, SMS and social posts; `playground.start` builds it all for `app.py`. Nothing here
imports the bot: it is the other side of the wire.
"""
