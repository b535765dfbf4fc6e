"""The Entra stand-in, driven by msal as Lore and the Agents SDK drive it."""

from __future__ import annotations

from typing import Any

import jwt
import msal
import pytest
import requests

from tests.fakes.entra import BOT_FRAMEWORK_RESOURCE, GRAPH_RESOURCE, EntraStandIn, make_certificate
from tests.fakes.entra_fixture import entra_fixture  # noqa: F401

TENANT = "11111111-1111-1111-1111-111111111111"
APP = "22222222-2222-2222-2222-222222222222"
GRAPH = f"{GRAPH_RESOURCE}/.default"


def _app(
    entra: EntraStandIn, credential: Any, tenant: str = TENANT
) -> msal.ConfidentialClientApplication:
    return msal.ConfidentialClientApplication(
        APP,
        client_credential=credential,
        authority=entra.authority(tenant),
        instance_discovery=False,
    )


def test_client_secret_gets_a_graph_token_signed_by_the_stand_in(entra: EntraStandIn) -> None:
    entra.register_app(TENANT, APP, secret="s3cret")
    result = _app(entra, "s3cret").acquire_token_for_client([GRAPH])
    claims = entra.verify_access_token(result["access_token"], GRAPH_RESOURCE)
    assert (claims["tid"], claims["appid"], claims["aud"]) == (TENANT, APP, GRAPH_RESOURCE)
    assert claims["exp"] > claims["iat"]
    assert [t.credential for t in entra.issued] == ["secret"]
    with pytest.raises(jwt.InvalidAudienceError):
        entra.verify_access_token(result["access_token"], BOT_FRAMEWORK_RESOURCE)


def test_msal_caches_the_token(entra: EntraStandIn) -> None:
    entra.register_app(TENANT, APP, secret="s3cret")
    app = _app(entra, "s3cret")
    app.acquire_token_for_client([GRAPH])
    assert app.acquire_token_for_client([GRAPH])["token_source"] == "cache"
    assert entra.token_requests == 1


@pytest.mark.parametrize("sha1", [False, True], ids=["PS256 x5t#S256", "RS256 x5t"])
def test_certificate_assertion_is_verified(entra: EntraStandIn, sha1: bool) -> None:
    key, cert = make_certificate()
    entra.register_app(TENANT, APP, certificate_pem=cert)
    credential: dict[str, str] = {"private_key": key, "public_certificate": cert}
    if sha1:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes

        parsed = x509.load_pem_x509_certificate(cert.encode())
        credential = {"private_key": key, "thumbprint": parsed.fingerprint(hashes.SHA1()).hex()}
    result = _app(entra, credential).acquire_token_for_client(
        [f"{BOT_FRAMEWORK_RESOURCE}/.default"]
    )
    assert entra.verify_access_token(result["access_token"], BOT_FRAMEWORK_RESOURCE)["appid"] == APP
    assert entra.issued[0].credential == "certificate"


def test_an_assertion_signed_by_another_key_is_refused(entra: EntraStandIn) -> None:
    _, cert = make_certificate()
    other_key, _ = make_certificate()
    entra.register_app(TENANT, APP, certificate_pem=cert)
    result = _app(
        entra, {"private_key": other_key, "public_certificate": cert}
    ).acquire_token_for_client([GRAPH])
    assert (result["error"], result["error_codes"]) == ("invalid_client", [700027])


def test_an_unregistered_certificate_is_refused(entra: EntraStandIn) -> None:
    _, cert = make_certificate()
    key, other_cert = make_certificate()
    entra.register_app(TENANT, APP, certificate_pem=cert)
    result = _app(
        entra, {"private_key": key, "public_certificate": other_cert}
    ).acquire_token_for_client([GRAPH])
    assert result["error_codes"] == [700021]


def test_error_bodies_have_the_aadsts_shape(entra: EntraStandIn) -> None:
    entra.register_app(TENANT, APP, secret="s3cret")
    bad = _app(entra, "wrong").acquire_token_for_client([GRAPH])
    assert bad["error"] == "invalid_client" and bad["error_codes"] == [7000215]
    assert bad["error_description"].startswith("AADSTS7000215: ")
    assert {"timestamp", "trace_id", "correlation_id", "error_uri"} <= set(bad)
    scope = _app(entra, "s3cret").acquire_token_for_client([f"{GRAPH_RESOURCE}/User.Read"])
    assert scope["error"] == "invalid_scope"
    raw = requests.post(
        entra.token_endpoint(TENANT),
        data={
            "grant_type": "client_credentials",
            "client_id": APP,
            "client_secret": "wrong",
            "scope": GRAPH,
        },
        timeout=5,
    )
    assert raw.status_code == 401
    raw = requests.post(
        entra.token_endpoint(TENANT),
        data={
            "grant_type": "client_credentials",
            "client_id": APP,
            "client_secret": "s3cret",
            "scope": "x/.default",
        },
        timeout=5,
    )
    assert raw.status_code == 400


def test_an_unknown_tenant_fails_when_msal_builds_the_app(entra: EntraStandIn) -> None:
    with pytest.raises(ValueError, match="authority"):
        _app(entra, "s3cret", tenant="33333333-3333-3333-3333-333333333333")
    raw = requests.post(
        entra.token_endpoint("nobody"), data={"grant_type": "client_credentials"}, timeout=5
    )
    assert raw.status_code == 400 and raw.json()["error_codes"] == [90002]


def test_an_app_of_another_tenant_is_unknown_here(entra: EntraStandIn) -> None:
    entra.register_app(TENANT, APP, secret="s3cret")
    entra.register_tenant("other")
    result = _app(entra, "s3cret", tenant="other").acquire_token_for_client([GRAPH])
    assert result["error_codes"] == [700016]


def test_failures_and_hangs_on_demand(entra: EntraStandIn) -> None:
    entra.register_app(TENANT, APP, secret="s3cret")
    app = _app(entra, "s3cret")
    entra.fail_token_requests(503, count=1)
    with pytest.raises(requests.HTTPError):
        raw = requests.post(entra.token_endpoint(TENANT), data={}, timeout=5)
        raw.raise_for_status()
    assert "access_token" in app.acquire_token_for_client([GRAPH])
    entra.hang_token_requests()
    with pytest.raises(requests.Timeout):
        requests.post(
            entra.token_endpoint(TENANT), data={"grant_type": "client_credentials"}, timeout=0.3
        )


def _assertion(key_pem: str, cert_pem: str, **claims: Any) -> str:
    import base64
    import time

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    thumb = base64.urlsafe_b64encode(cert.fingerprint(hashes.SHA256())).rstrip(b"=").decode()
    now = int(time.time())
    payload: dict[str, Any] = {"iss": APP, "sub": APP, "jti": "1", "nbf": now, "exp": now + 600}
    payload.update(claims)
    return jwt.encode(payload, key_pem, algorithm="PS256", headers={"x5t#S256": thumb})


@pytest.mark.parametrize(("claims", "code"), [
    ({"exp": 1_000_000_000}, 700024),
    ({"aud": "https://login.microsoftonline.com/elsewhere/oauth2/v2.0/token"}, 50027),
    ({"iss": "someone-else"}, 50027),
    ({"sub": "someone-else"}, 700023),
], ids=["expired", "wrong audience", "wrong issuer", "wrong subject"])
def test_assertion_claims_are_checked(entra: EntraStandIn, claims: dict[str, Any], code: int) -> None:
    key, cert = make_certificate()
    entra.register_app(TENANT, APP, certificate_pem=cert)
    claims.setdefault("aud", entra.token_endpoint(TENANT))
    form = {
        "grant_type": "client_credentials", "client_id": APP, "scope": GRAPH,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": _assertion(key, cert, **claims),
    }
    raw = requests.post(entra.token_endpoint(TENANT), data=form, timeout=5)
    assert (raw.status_code, raw.json()["error"], raw.json()["error_codes"]) == (401, "invalid_client", [code])
    form["client_assertion"] = _assertion(key, cert, aud=entra.token_endpoint(TENANT))
    assert requests.post(entra.token_endpoint(TENANT), data=form, timeout=5).status_code == 200
