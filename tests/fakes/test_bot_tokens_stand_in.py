"""The token-issuer stand-in publishes what Bot Framework documents: OpenID metadata pointing at
a JWKS whose keys carry endorsements, and RS256 tokens with the documented claims."""

from __future__ import annotations

import aiohttp
import jwt

from tests.fakes.bot_tokens import ISSUER, BotTokenIssuer


async def test_metadata_keys_and_tokens() -> None:
    async with BotTokenIssuer.running("app") as issuer, aiohttp.ClientSession() as http:
        async with http.get(issuer.metadata_url) as r:
            metadata = await r.json()
        assert metadata["issuer"] == ISSUER and metadata["id_token_signing_alg_values_supported"] == ["RS256"]
        async with http.get(metadata["jwks_uri"]) as r:
            (key,) = (await r.json())["keys"]
        assert key["kty"] == "RSA" and key["endorsements"] == ["msteams"]
        token = issuer.token("https://smba.example/")
        assert jwt.get_unverified_header(token) == {"alg": "RS256", "kid": key["kid"], "typ": "JWT"}
        public = jwt.PyJWK.from_dict(key, algorithm="RS256").key
        claims = jwt.decode(token, public, algorithms=["RS256"], audience="app", issuer=ISSUER)
        assert claims["serviceurl"] == "https://smba.example/"
        rotated = issuer.rotate()
        issuer.retire(key["kid"])
        async with http.get(metadata["jwks_uri"]) as r:
            assert [k["kid"] for k in (await r.json())["keys"]] == [rotated.kid]
        assert (issuer.metadata_fetches, issuer.key_fetches) == (1, 2)
