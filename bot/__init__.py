"""The application: chat adapters, the conversation service, the server, the `lore` CLI."""
