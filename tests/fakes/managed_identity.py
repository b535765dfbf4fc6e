"""A loopback stand-in for the App Service / Container Apps managed identity endpoint, handing
out tokens the Entra stand-in signs (so any stand-in resource server validates them).

azure-identity's ManagedIdentityCredential uses this endpoint when ``IDENTITY_ENDPOINT`` and
``IDENTITY_HEADER`` are set (the platform sets them; the tests set them with monkeypatch), and
Azure's instance metadata service (169.254.169.254, not loopback) otherwise.

Documented behaviour covered (learn.microsoft.com/azure/app-service/overview-managed-identity,
"REST endpoint reference"; learn.microsoft.com/azure/container-apps/managed-identity):

- ``GET <IDENTITY_ENDPOINT>?resource=<resource>&api-version=2019-08-01`` with the header
  ``X-IDENTITY-HEADER: <IDENTITY_HEADER>`` (missing or wrong -> 400 / 401); ``client_id``
  selects a user-assigned identity (unknown -> 400).
- Answer: ``access_token``, ``expires_on`` (epoch seconds), ``resource``, ``token_type:
  Bearer``, ``client_id``.

Not covered: ``principal_id`` / ``mi_res_id`` selection, the 2017-09-01 API version.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlparse

from tests.fakes.entra import TOKEN_LIFETIME, EntraStandIn


class ManagedIdentityEndpoint:
    def __init__(self, entra: EntraStandIn, tenant_id: str, system_client_id: str) -> None:
        self.entra = entra
        self.tenant_id = tenant_id
        self.system_client_id = system_client_id
        self.user_assigned: set[str] = set()
        self.header = uuid.uuid4().hex  # IDENTITY_HEADER: guards against SSRF, not a credential
        self.requests: list[dict[str, str]] = []
        self._server: ThreadingHTTPServer | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/msi/token"

    def start(self) -> Self:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                status, body = stand_in._token(urlparse(self.path), self.headers.get("X-IDENTITY-HEADER"))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self._server.server_address[1])
        threading.Thread(target=self._server.serve_forever, name="managed-identity", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _token(self, url: Any, header: str | None) -> tuple[int, dict[str, Any]]:
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.requests.append(query)
        if url.path != "/msi/token":
            return 404, {"error": "not_found"}
        if header is None:
            return 400, {"error": "invalid_request", "error_description": "X-IDENTITY-HEADER is missing"}
        if header != self.header:
            return 401, {"error": "unauthorized", "error_description": "X-IDENTITY-HEADER is invalid"}
        if query.get("api-version") != "2019-08-01" or not query.get("resource"):
            return 400, {"error": "invalid_request", "error_description": "api-version and resource are required"}
        client_id = query.get("client_id") or self.system_client_id
        if client_id != self.system_client_id and client_id not in self.user_assigned:
            return 400, {"error": "invalid_request", "error_description": "Identity not found"}
        resource = query["resource"].rstrip("/")
        token, _ = self.entra.mint_access_token(self.tenant_id, client_id, resource)
        return 200, {"access_token": token, "expires_on": str(int(time.time()) + TOKEN_LIFETIME),
                     "resource": resource, "token_type": "Bearer", "client_id": client_id}
