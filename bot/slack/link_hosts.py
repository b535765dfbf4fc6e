"""Rule: a link in an answer that points at none of its cited sources shows its real host (a
mailto link: its address) after its label, unless the label already shows exactly that.

A language model (or a document it quotes) can write ``[Reset your password](https://evil.example/x)``
or ``[https://intranet.example](https://evil.example)``; Slack shows only the label. Citation
links are Lore's own and stay as they are. A URL with userinfo (``https://intranet.example@evil.example/``)
always shows its host: there the URL itself is the disguise.

It works on converted mrkdwn, where (by the rule of :mod:`bot.slack.escaping`) every ``<`` opens
a link written as ``<target|label>``, with ``|``, ``<`` and ``>`` kept out of both parts,
so the links are found again without parsing Markdown a second time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.link_hosts import label_shows, real_host
from bot.slack.escaping import link_label, safe_url, unescape

_LINK = re.compile(r"<([^<>|]*)\|([^<>]*)>")


def disclose_link_hosts(mrkdwn: str, cited_urls: Iterable[str]) -> str:
    """``mrkdwn`` (from :func:`bot.slack.mrkdwn.to_mrkdwn`) with the rule above applied."""
    cited = {target for target in map(safe_url, cited_urls) if target is not None}

    def disclose(match: re.Match[str]) -> str:
        target, label = match.group(1), match.group(2)
        if target in cited:
            return match.group()
        url = target.replace("&amp;", "&")
        found = real_host(url)
        if found is None:
            return match.group()
        shown, userinfo = found
        plain = unescape(label).replace("｜", "|")
        if not userinfo and (plain == url or label_shows(plain, shown)):
            return match.group()
        return f"<{target}|{label} ({link_label(shown)})>"

    return _LINK.sub(disclose, mrkdwn)
