"""Microsoft Teams as a chat surface (the only package that imports the Microsoft 365 Agents SDK)."""
