"""Microsoft Teams: the chat surface and the Teams app package (manifest.py, package.py, png.py)."""
