"""Smoke test: the real llama.cpp server speaks the OpenAI API as the SDK expects.

It pins the upstream behaviour the proxy relies on (and that fakes imitate), so a
change in xllamacpp/llama.cpp shows up here first, not as a confusing proxy failure.
"""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from tests.support.llama import LlamaServer

pytestmark = pytest.mark.llama

MESSAGES: list[ChatCompletionMessageParam] = [
    {"role": "user", "content": "Say hello in one sentence."}
]


@pytest.fixture
def client(llama_server: LlamaServer) -> Iterator[openai.OpenAI]:
    """Closed after each test so its connection pool raises no ResourceWarning."""
    with openai.OpenAI(base_url=llama_server.base_url, api_key="none", max_retries=0) as c:
        yield c


def test_models_lists_the_alias(llama_server: LlamaServer, client: openai.OpenAI) -> None:
    assert [m.id for m in client.models.list()] == [llama_server.model]


def test_chat_completion(llama_server: LlamaServer, client: openai.OpenAI) -> None:
    resp = client.chat.completions.create(
        model=llama_server.model, messages=MESSAGES, max_tokens=16
    )
    assert resp.object == "chat.completion"
    assert len(resp.choices) == 1
    choice = resp.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content and choice.message.content.strip()
    assert choice.finish_reason in {"stop", "length"}
    assert resp.usage is not None
    assert 0 < resp.usage.completion_tokens <= 16
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens
    # llama.cpp extra: per-request timings, kept by the SDK as an extra field.
    assert resp.model_extra and "timings" in resp.model_extra


def test_chat_completion_stream(llama_server: LlamaServer, client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model=llama_server.model,
        messages=MESSAGES,
        max_tokens=16,
        stream=True,
        stream_options={"include_usage": True},
    )
    with stream:
        chunks = list(stream)
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    with_choices = [c for c in chunks if c.choices]
    # llama.cpp opens with a role-only delta (content null), like OpenAI.
    first = with_choices[0].choices[0].delta
    assert first.role == "assistant"
    assert first.content is None
    text = "".join(c.choices[0].delta.content or "" for c in with_choices)
    assert text.strip()
    assert sum(1 for c in with_choices if c.choices[0].delta.content) >= 2
    finishes = [c.choices[0].finish_reason for c in with_choices if c.choices[0].finish_reason]
    assert finishes in (["stop"], ["length"])
    # include_usage: one last chunk with empty choices and the usage, none before.
    assert not chunks[-1].choices
    usage = chunks[-1].usage
    assert usage is not None
    assert 0 < usage.completion_tokens <= 16
    assert all(c.usage is None for c in chunks[:-1])


def test_stream_without_include_usage_has_no_usage(
    llama_server: LlamaServer, client: openai.OpenAI
) -> None:
    with client.chat.completions.create(
        model=llama_server.model, messages=MESSAGES, max_tokens=4, stream=True
    ) as stream:
        chunks = list(stream)
    assert all(c.choices for c in chunks)
    assert all(c.usage is None for c in chunks)
    assert chunks[-1].choices[0].finish_reason in {"stop", "length"}


def test_n_choices(llama_server: LlamaServer, client: openai.OpenAI) -> None:
    """This llama.cpp build honours ``n`` (older ones rejected or ignored it)."""
    resp = client.chat.completions.create(
        model=llama_server.model, messages=MESSAGES, max_tokens=4, n=2
    )
    assert [c.index for c in resp.choices] == [0, 1]
    assert all(c.message.content for c in resp.choices)
