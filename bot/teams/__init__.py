"""Microsoft Teams: the only package that may import the Microsoft 365 Agents SDK or msal."""
