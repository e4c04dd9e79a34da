"""The Slack side: everything that calls Slack's Web API on the domain's behalf."""
