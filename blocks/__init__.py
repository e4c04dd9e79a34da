"""Pure Block Kit builders on slack_sdk.models: data in, blocks out, no I/O."""
