"""A loopback HTTPS stand-in for the Kubernetes TokenReview API, so that a real OpenBao server
can validate service account tokens with its Kubernetes auth method.

Documented behaviour covered (kubernetes.io/docs/reference/kubernetes-api/authentication-resources/
token-review-v1/, kubernetes.io/docs/reference/access-authn-authz/authentication/#service-account-tokens,
openbao.org/docs/auth/kubernetes/):

- ``POST /apis/authentication.k8s.io/v1/tokenreviews`` with a ``TokenReview`` body
  (``spec.token``, optional ``spec.audiences``); the caller authenticates with a bearer token
  (the reviewer's: a service account with ``system:auth-delegator``) -> else 401 with a
  ``Status`` object (``reason: Unauthorized``).
- The answer is a ``TokenReview`` whose ``status`` has ``authenticated: true`` and ``user``
  (``username`` = ``system:serviceaccount:<namespace>:<name>``, ``uid``, ``groups``) and
  ``audiences`` for a token this stand-in issued (and did not revoke), else
  ``authenticated: false`` with ``error``.
- Issued tokens are RS256 JWTs with the projected-token claims (``iss``, ``sub``, ``aud``,
  ``exp``, ``iat``, ``nbf``, ``kubernetes.io: {namespace, serviceaccount: {name, uid}}``).

Not covered: pod-bound token claims, TokenRequest, the API server's other endpoints.
"""

from __future__ import annotations

import json
import ssl
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.entra import _tls_certificate

ISSUER = "https://kubernetes.default.svc.cluster.local"


class TokenReviewStandIn:
    def __init__(self) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.reviewer_token = f"reviewer-{uuid.uuid4().hex}"
        self._issued: dict[str, dict[str, Any]] = {}  # token -> claims
        self.reviews: list[str] = []  # the service account of each review, "ns:name"
        self._dir = tempfile.TemporaryDirectory(prefix="token-review-")
        self.ca_pem = ""
        self.port = 0
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def issue(self, namespace: str, name: str, audience: str = ISSUER) -> str:
        now = int(time.time())
        uid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{namespace}/{name}"))
        claims = {"iss": ISSUER, "sub": f"system:serviceaccount:{namespace}:{name}", "aud": [audience],
                  "iat": now, "nbf": now, "exp": now + 3600,
                  "kubernetes.io": {"namespace": namespace, "serviceaccount": {"name": name, "uid": uid}}}
        token = jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": "stand-in"})
        self._issued[token] = claims
        return token

    def revoke(self, token: str) -> None:
        self._issued.pop(token, None)

    def start(self) -> Self:
        key_pem, cert_pem = _tls_certificate()
        key_file, cert_file = Path(self._dir.name) / "key.pem", Path(self._dir.name) / "cert.pem"
        key_file.write_bytes(key_pem)
        cert_file.write_bytes(cert_pem)
        self.ca_pem = cert_pem.decode("ascii")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(cert_file), str(key_file))
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path.split("?")[0] != "/apis/authentication.k8s.io/v1/tokenreviews":
                    return self._reply(404, _status(404, "NotFound", "the server could not find the requested resource"))
                if self.headers.get("Authorization") != f"Bearer {stand_in.reviewer_token}":
                    return self._reply(401, _status(401, "Unauthorized", "Unauthorized"))
                review = json.loads(body or b"{}")
                spec = review.get("spec") or {}
                self._reply(201, stand_in._review(str(spec.get("token", "")), spec.get("audiences") or []))

            def _reply(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server = server
        self.port = int(server.server_address[1])
        threading.Thread(target=server.serve_forever, name="token-review", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self._dir.cleanup()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _review(self, token: str, audiences: list[str]) -> dict[str, Any]:
        review: dict[str, Any] = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                                  "spec": {"token": token, "audiences": audiences}}
        claims = self._issued.get(token)
        try:
            if claims is None:
                raise jwt.InvalidTokenError("unknown token")
            jwt.decode(token, self._key.public_key(), algorithms=["RS256"],
                       audience=audiences or claims["aud"])
        except jwt.InvalidTokenError:
            review["status"] = {"authenticated": False, "error": "[invalid bearer token, service account token is not valid]"}
            return review
        account = claims["kubernetes.io"]
        namespace, name = account["namespace"], account["serviceaccount"]["name"]
        self.reviews.append(f"{namespace}:{name}")
        review["status"] = {
            "authenticated": True,
            "user": {"username": f"system:serviceaccount:{namespace}:{name}",
                     "uid": account["serviceaccount"]["uid"],
                     "groups": ["system:serviceaccounts", f"system:serviceaccounts:{namespace}",
                                "system:authenticated"]},
            "audiences": audiences or claims["aud"],
        }
        return review

    def public_key_pem(self) -> str:
        return self._key.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}
