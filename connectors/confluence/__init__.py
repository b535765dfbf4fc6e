"""Confluence connector."""
