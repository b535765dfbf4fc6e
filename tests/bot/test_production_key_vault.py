"""`lore serve` in production mode on Azure Key Vault (the stand-in, through the real SDK, with
the managed identity the platform provides): no secret in any file or environment variable of
the process; the signing secret rotated in the vault while it runs; the vault down (cached
values serve, then /readyz 503 and Slack requests 503, fail closed) and back, without a
restart."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from core.secrets.azure_key_vault import AzureKeyVaultSettings, AzureKeyVaultStore
from core.secrets.redaction import Redactor
from tests.fakes import slack_signing as sig
from tests.fakes.entra import EntraStandIn
from tests.fakes.key_vault import KeyVaultStandIn, VaultProxy
from tests.fakes.managed_identity import ManagedIdentityEndpoint
from tests.fakes.slack_stand_in import SlackStandIn

TENANT = "6a1d0c3e-2b4f-4d5a-9e8c-7f1b2c3d4e5f"
SEEDER = "9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"  # the operator's app that puts the secrets in
SEEDER_SECRET = "kv-seeder-secret-7d3a91"
IDENTITY = "3c2b1a0f-9e8d-4c7b-a6f5-e4d3c2b1a0f9"  # the server's managed identity
SIGNING = "prod-signing-secret-5f0c2a9e7b1d4c36"
ROTATED = "prod-signing-secret-rotated-8e2d61ab"
BOT_TOKEN = "xoxb-prod-1-2-prodtokenc0ffee"
SECRETS = (SIGNING, ROTATED, BOT_TOKEN, SEEDER_SECRET)
BODY = json.dumps({"type": "url_verification", "challenge": "prod-challenge"}).encode()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _readyz(session: aiohttp.ClientSession, url: str) -> tuple[int, dict[str, str]]:
    async with session.get(f"{url}/readyz") as r:
        return r.status, (await r.json())["checks"]


async def _until(check: object, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.2)
    raise AssertionError("condition not reached in time")


async def _slack(session: aiohttp.ClientSession, url: str, secret: str) -> int:
    headers = {**sig.sign(BODY, secret, int(time.time())), "Content-Type": "application/json"}
    async with session.post(f"{url}/slack/events", data=BODY, headers=headers) as r:
        return r.status


@pytest.fixture
async def slack() -> AsyncIterator[SlackStandIn]:
    async with SlackStandIn.running(bot_token=BOT_TOKEN, scopes=["chat:write"]) as stand_in:
        yield stand_in


async def test_production_on_key_vault_with_no_secret_in_files_or_environment(
        handbook_data: Path, tmp_path: Path, slack: SlackStandIn) -> None:
    data = tmp_path / "data"
    shutil.copytree(handbook_data, data)
    with EntraStandIn() as entra, KeyVaultStandIn(entra, TENANT, host="lore-prod.vault.azure.net") as kv, \
            ManagedIdentityEndpoint(entra, TENANT, IDENTITY) as identity:
        entra.register_app(TENANT, SEEDER, secret=SEEDER_SECRET)
        kv.grant(SEEDER)
        kv.grant(IDENTITY, {"get"})
        proxy = VaultProxy(kv.port)
        seeder_file = tmp_path / "seeder-secret"
        seeder_file.write_text(SEEDER_SECRET)
        proxy_env = {"HTTPS_PROXY": proxy.url, "NO_PROXY": "127.0.0.1,localhost"}
        saved = {k: os.environ.get(k) for k in proxy_env}
        os.environ.update(proxy_env)
        try:
            seeder = AzureKeyVaultStore(AzureKeyVaultSettings(
                vault_url=kv.vault_url, credential="client-secret", tenant_id=TENANT, client_id=SEEDER,
                client_secret_file=str(seeder_file), authority_host=entra.base_url, ca_file=kv.ca_file), Redactor())
            seeder.put("slack-signing-secret", SIGNING)
            seeder.put("slack-bot-token", BOT_TOKEN)
            config = tmp_path / "lore.toml"
            config.write_text(f"""
data_dir = "{data}"
[server]
mode = "production"
[embedding]
provider = "hash"
[llm]
provider = "extractive"
[secrets]
provider = "azure-key-vault"
cache_seconds = 2
[secrets.azure-key-vault]
vault_url = "{kv.vault_url}"
credential = "managed-identity"
ca_file = "{kv.ca_file}"
timeout_seconds = 1
[slack]
enabled = true
api_url = "{slack.api_url}"
signing_secret_grace_seconds = 600
""")
            port = _free_port()
            env = {k: v for k, v in os.environ.items() if not k.startswith(("LORE_", "AZURE_"))} | proxy_env | {
                "LORE_CONFIG": str(config),
                # What App Service / Container Apps set: an endpoint and an SSRF guard, no credential.
                "IDENTITY_ENDPOINT": identity.url, "IDENTITY_HEADER": identity.header,
            }
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.cli", "serve", "--port", str(port),
                env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            url = f"http://127.0.0.1:{port}"
            try:
                async with aiohttp.ClientSession() as session:
                    async def ready() -> bool:
                        if proc.returncode is not None:
                            raise AssertionError("server exited during startup")
                        try:
                            return (await _readyz(session, url))[0] == 200
                        except aiohttp.ClientError:
                            return False
                    await _until(ready)
                    assert await _slack(session, url, SIGNING) == 200
                    # No secret in the process's environment or in any file it was given.
                    environ = Path(f"/proc/{proc.pid}/environ").read_bytes().decode(errors="replace")
                    files = config.read_text() + "".join(p.read_text(errors="replace") for p in data.rglob("*.toml"))
                    for value in SECRETS:
                        assert value not in environ and value not in files

                    # Rotation in the vault while the server runs: new and (for the grace) old verify.
                    seeder.put("slack-signing-secret", ROTATED)

                    async def rotated() -> bool:
                        return await _slack(session, url, ROTATED) == 200
                    await _until(rotated, 15)
                    assert await _slack(session, url, SIGNING) == 200

                    # The vault goes away: cached values serve until they expire, then fail closed.
                    proxy.cut()

                    answered: list[int] = []

                    async def closed() -> bool:  # requests keep coming meanwhile
                        answered.append(await _slack(session, url, ROTATED))
                        status, checks = await _readyz(session, url)
                        return status == 503 and checks["secrets"].startswith("error")
                    await _until(closed, 20)
                    # while the cached value is young it serves; once it expired, every request is refused
                    assert answered[-1] == 503 and answered == sorted(answered) and set(answered) <= {200, 503}
                    assert await _slack(session, url, ROTATED) == 503

                    # And comes back: the same process recovers.
                    proxy.cut(False)

                    async def recovered() -> bool:
                        status, checks = await _readyz(session, url)
                        return status == 200 and checks["secrets"] == "ok"
                    await _until(recovered, 60)
                    assert await _slack(session, url, ROTATED) == 200
            finally:
                if proc.returncode is None:
                    proc.terminate()
                    await asyncio.wait_for(proc.wait(), 20)
            stderr = (await proc.stderr.read()).decode() if proc.stderr else ""
        finally:
            proxy.close()
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    for value in SECRETS:
        assert value not in stderr
    db = b"".join(p.read_bytes() for p in data.glob("lore.db*"))
    for value in SECRETS:
        assert value.encode() not in db
    assert "secrets.provider is 'env'" not in stderr
