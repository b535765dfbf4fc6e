"""The HTTP layer every connector of a web API shares (Confluence today; SharePoint, GitHub).

``client.HttpClient`` is the client: retries honouring ``Retry-After`` (``retry_hints``),
next-link paging that keeps the credentials on one origin (``links``), bounded streamed
downloads (``download``), error messages without secrets (``messages``) and errors named by
what they mean for a run (``errors``). A source adds only what is its own: URL building, where
its JSON keeps items and next links, its error-message format, and its session's
authentication.
"""
