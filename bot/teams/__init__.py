"""Microsoft Teams: the chat surface, its identity and audience from Microsoft Graph, and the Teams
app package (manifest.py, package.py, png.py). The only package that may import the Microsoft 365
Agents SDK or msal."""
