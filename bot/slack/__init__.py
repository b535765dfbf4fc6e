"""The Slack surface: translates Slack events into turns and renders answers as Block Kit."""
