"""The ``entra`` and ``graph`` pytest fixtures: a running :class:`tests.fakes.entra.EntraStandIn`, with
``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` pointing at its TLS certificate so that msal (through
requests) trusts it for the test's duration.

Use it from a test module or conftest with
``from tests.fakes.entra_fixture import entra_fixture, graph_fixture  # noqa: F401`` and test
parameters named ``entra`` / ``graph`` (the import's own name differs, so ruff sees no redefinition).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from tests.fakes.entra import EntraStandIn
from tests.fakes.graph import GraphStandIn
from tests.fakes.loopback import serving


@pytest.fixture(name="entra")
def entra_fixture(monkeypatch: pytest.MonkeyPatch) -> Iterator[EntraStandIn]:
    with EntraStandIn() as stand_in:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", stand_in.ca_file)
        monkeypatch.setenv("CURL_CA_BUNDLE", stand_in.ca_file)
        yield stand_in


@pytest_asyncio.fixture(name="graph")
async def graph_fixture(entra: EntraStandIn) -> AsyncIterator[GraphStandIn]:
    """A Graph stand-in (25 objects a page, to exercise paging) trusting ``entra``'s tokens."""
    stand_in = GraphStandIn(entra, page_size=25)
    async with serving(stand_in.app()) as port:
        stand_in.port = port
        yield stand_in
