"""Client API keys: stored hashed, compared in constant time, mapped to a tenant whose policy
applies; a missing or wrong key gets 401; the upstream key never reaches a client."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import aiohttp
import openai
import pytest
from aiohttp import web

from policies.engine import Policy
from proxy.auth import ClientKeys, ClientKeysError, key_digest
from tests.support.servers import proxy_stack

STRICT_POLICY = """
name: strict
version: "1"
detectors:
  words: {type: keywords, files: [{path: words.txt, category: A.1.h}]}
prompt:
  - {id: block-words, detector: words, action: block}
"""


def keys_file(tmp_path: Path) -> Path:
    (tmp_path / "words.txt").write_text("forbiddenword\n", encoding="utf-8")
    (tmp_path / "strict.yaml").write_text(STRICT_POLICY, encoding="utf-8")
    path = tmp_path / "keys.yaml"
    path.write_text(
        "tenants:\n  acme: {}\n  strict: {policy: strict.yaml}\n"
        f"keys:\n  - {{tenant: acme, sha256: {key_digest('sk-acme-1')}}}\n"
        f"  - {{tenant: strict, sha256: {key_digest('sk-strict-1')}}}\n",
        encoding="utf-8",
    )
    return path


async def test_keys_select_tenants_and_policies(default_policy: Policy, tmp_path: Path) -> None:
    seen_auth: list[str | None] = []

    async def upstream(request: web.Request) -> web.Response:
        seen_auth.append(request.headers.get("Authorization"))
        return web.json_response({"id": "x", "object": "chat.completion", "created": 1, "model": "m",
                                  "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"},
                                               "finish_reason": "stop"}]})

    app = web.Application()
    app.router.add_post("/v1/chat/completions", upstream)
    keys = ClientKeys.load(keys_file(tmp_path))
    async with proxy_stack(default_policy, upstream_app=app, client_keys=keys,
                           upstream={"api_key": "sk-upstream-secret"}) as stack:
        async with openai.AsyncOpenAI(base_url=stack.base_url, api_key="sk-wrong", max_retries=0) as client:
            with pytest.raises(openai.AuthenticationError) as caught:
                await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
            assert caught.value.code == "invalid_api_key"
        async with aiohttp.ClientSession() as session, session.post(  # no key at all
            f"{stack.base_url}/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]}
        ) as response:
            assert response.status == 401
            assert (await response.json())["error"]["code"] == "invalid_api_key"
        async with openai.AsyncOpenAI(base_url=stack.base_url, api_key="sk-acme-1", max_retries=0) as acme:
            reply = await acme.chat.completions.create(model="m", messages=[{"role": "user", "content": "forbiddenword"}])
            assert reply.choices[0].message.content == "ok"  # acme is on the default policy
        async with openai.AsyncOpenAI(base_url=stack.base_url, api_key="sk-strict-1", max_retries=0) as strict:
            with pytest.raises(openai.BadRequestError):  # strict has its own policy
                await strict.chat.completions.create(model="m", messages=[{"role": "user", "content": "forbiddenword"}])
        async with aiohttp.ClientSession() as session, session.get(f"{stack.url}/metrics") as response:
            metrics = await response.text()
    assert seen_auth == ["Bearer sk-upstream-secret"]
    assert 'status="401",tenant="-"' in metrics and 'tenant="acme"' in metrics and 'tenant="strict"' in metrics
    assert "sk-acme-1" not in metrics and "sk-upstream-secret" not in metrics


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("tenants: {a: {}}\nkeys: [{tenant: b, sha256: '" + "0" * 64 + "'}]\n", "not listed under 'tenants'"),
        ("tenants: {a: {}}\nkeys: [{tenant: a, sha256: plaintext-key}]\n", "sha256"),
        ("tenants: {'a b': {}}\nkeys: [{tenant: 'a b', sha256: '" + "0" * 64 + "'}]\n", "tenant name"),
        ("[not, a, mapping", "cannot read"),
    ],
)
def test_bad_keys_file_names_the_problem(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ClientKeysError, match=message) as caught:
        ClientKeys.load(path)
    assert str(path) in str(caught.value)


def test_hash_key_command() -> None:
    out = subprocess.run([sys.executable, "-m", "proxy.cli", "hash-key"], input="sk-acme-1\n", capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == key_digest("sk-acme-1")
