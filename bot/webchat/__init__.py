"""The local web chat: a development surface for trying Lore without Slack or Teams."""
