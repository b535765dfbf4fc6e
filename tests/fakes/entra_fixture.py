"""The ``entra`` pytest fixture: a running :class:`tests.fakes.entra.EntraStandIn`, with
``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` pointing at its TLS certificate so that msal (through
requests) trusts it for the test's duration.

Use it from a test module or conftest with
``from tests.fakes.entra_fixture import entra_fixture  # noqa: F401`` and a test parameter named
``entra`` (the import's own name differs, so ruff sees no redefinition).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.entra import EntraStandIn


@pytest.fixture(name="entra")
def entra_fixture(monkeypatch: pytest.MonkeyPatch) -> Iterator[EntraStandIn]:
    with EntraStandIn() as stand_in:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", stand_in.ca_file)
        monkeypatch.setenv("CURL_CA_BUNDLE", stand_in.ca_file)
        yield stand_in
