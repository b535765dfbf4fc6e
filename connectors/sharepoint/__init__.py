"""The SharePoint Online connector (Microsoft Graph and SharePoint REST); see connector.py."""
