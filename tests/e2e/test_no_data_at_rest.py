"""Planted personal data, secrets and banned terms go through the proxy; afterwards the audit
trail, the logs and /metrics are searched for them: nothing is found."""

from __future__ import annotations

import logging
from pathlib import Path

import aiohttp
import openai
import pytest

from policies.engine import Policy
from proxy.audit import AuditConfig
from tests.support.servers import proxy_stack

PLANTED = {
    "email": "wang.fang@example.com",
    "mobile": "13987654321",
    "resident_id": "11010519491231002X",
    "card": "6222021234567890128",
    "secret": "sk-proj-" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7dEf0h",
    "banned": "网络赌博",
}


@pytest.mark.parametrize("stream", [False, True])
async def test_nothing_planted_is_at_rest(
    default_policy: Policy, tmp_path: Path, caplog: pytest.LogCaptureFixture, stream: bool
) -> None:
    caplog.set_level(logging.DEBUG)
    audit_path = tmp_path / "audit.jsonl"
    async with proxy_stack(default_policy, audit=AuditConfig(path=audit_path, salt=b"test-salt")) as stack:
        client = openai.AsyncOpenAI(base_url=stack.base_url, api_key="sk-client-key-123", max_retries=0)
        async with client:
            prompt = f"我是 {PLANTED['email']}，电话 {PLANTED['mobile']}，身份证 {PLANTED['resident_id']}，卡号 {PLANTED['card']}"
            stack.model.replies.append(f"好的，您的电话是 {PLANTED['mobile']}，邮箱 {PLANTED['email']}")
            answer = await client.chat.completions.create(
                model="demo-echo", messages=[{"role": "user", "content": prompt}], stream=stream)
            if stream:
                async for _ in answer:  # type: ignore[union-attr]
                    pass
            for blocked in (f"my key is {PLANTED['secret']}", f"推荐{PLANTED['banned']}网站"):
                with pytest.raises(openai.BadRequestError):
                    await client.chat.completions.create(model="demo-echo", messages=[{"role": "user", "content": blocked}])
        async with aiohttp.ClientSession() as session, session.get(f"{stack.url}/metrics") as response:
            metrics = await response.text()
    audit = audit_path.read_text(encoding="utf-8")
    records = audit.splitlines()
    assert len(records) == 4  # prompt + completion of the answered request, two blocked prompts
    assert '"kind":"CN_MOBILE"' in audit and '"hash":' in audit
    for name, value in PLANTED.items():
        for where, text in (("audit", audit), ("logs", caplog.text), ("metrics", metrics)):
            assert value not in text, f"{name} found in {where}"
    assert "sk-client-key-123" not in audit + caplog.text + metrics


async def test_a_model_name_carrying_personal_data_is_not_recorded(default_policy: Policy, tmp_path: Path) -> None:
    """The demo model, like llama.cpp, echoes the requested model name back in its answer."""
    audit_path = tmp_path / "audit.jsonl"
    async with proxy_stack(default_policy, audit=AuditConfig(path=audit_path, salt=b"test-salt")) as stack:
        client = openai.AsyncOpenAI(base_url=stack.base_url, api_key="k", max_retries=0)
        async with client:
            for model in (PLANTED["mobile"], f"my id {PLANTED['resident_id']}", "Qwen2.5-7B-Instruct"):
                await client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
        async with aiohttp.ClientSession() as session, session.get(f"{stack.url}/metrics") as response:
            metrics = await response.text()
    audit = audit_path.read_text(encoding="utf-8")
    for where, text in (("audit", audit), ("metrics", metrics)):
        assert PLANTED["mobile"] not in text and PLANTED["resident_id"] not in text, where
    assert audit.count('"model":"other"') == 4 and audit.count('"model":"Qwen2.5-7B-Instruct"') == 2
    assert 'model="Qwen2.5-7B-Instruct"' in metrics and 'model="other"' in metrics
