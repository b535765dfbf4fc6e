"""Slack adapter: events and commands in, Block Kit answers out; identity, audience, installs."""
