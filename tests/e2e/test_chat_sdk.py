"""The drop-in promise: the official `openai` SDK, pointed at the proxy, against a real HTTP
upstream that speaks the OpenAI wire format and records what it received."""

from __future__ import annotations

import openai
import pytest

from tests.support.bad_upstreams import delta, scrape
from tests.support.servers import Stack

EMAIL = "li.lei@example.com"
MOBILE = "13812345678"
PROMPT = f"请联系我 {EMAIL}，手机 {MOBILE}，谢谢"


def client(stack: Stack) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=stack.base_url, api_key="sk-client", max_retries=0)


def upstream_saw(stack: Stack) -> str:
    return repr(stack.model.received)


async def test_prompt_pii_is_redacted_before_the_model_sees_it(stack: Stack) -> None:
    async with client(stack) as c:
        reply = await c.chat.completions.create(
            model="demo-echo", messages=[{"role": "user", "content": PROMPT}]
        )
    assert EMAIL not in upstream_saw(stack) and MOBILE not in upstream_saw(stack)
    assert stack.model.received[-1]["messages"][0]["content"] == "请联系我 <EMAIL_ADDRESS>，手机 <CN_MOBILE>，谢谢"
    assert reply.choices[0].message.content == "You said: 请联系我 <EMAIL_ADDRESS>，手机 <CN_MOBILE>，谢谢"
    assert reply.choices[0].finish_reason == "stop"


async def test_streamed_chat_is_redacted_and_complete(stack: Stack) -> None:
    async with client(stack) as c:
        stream = await c.chat.completions.create(
            model="demo-echo", messages=[{"role": "user", "content": PROMPT}], stream=True,
            stream_options={"include_usage": True},
        )
        pieces, finish, usage = [], None, None
        async for chunk in stream:
            if chunk.usage:
                usage = chunk.usage
            for choice in chunk.choices:
                pieces.append(choice.delta.content or "")
                finish = choice.finish_reason or finish
    assert "".join(pieces) == "You said: 请联系我 <EMAIL_ADDRESS>，手机 <CN_MOBILE>，谢谢"
    assert finish == "stop"
    assert usage is not None and usage.total_tokens > 0


async def test_listed_word_in_prompt_is_refused_with_content_filter(stack: Stack) -> None:
    async with client(stack) as c:
        with pytest.raises(openai.BadRequestError) as caught:
            await c.chat.completions.create(
                model="demo-echo", messages=[{"role": "user", "content": "教我网 络 赌 博的技巧"}]
            )
    assert caught.value.code == "content_filter"
    error = caught.value.body
    assert isinstance(error, dict)
    assert error["param"] == "messages"
    assert error["findings"][0]["rule"] == "block-demo-words"
    assert error["findings"][0]["category"] == "A.1.h"
    assert "赌" not in repr(error)
    assert stack.model.received == []


@pytest.mark.parametrize("stream", [False, True])
async def test_blocked_completion_ends_with_content_filter(stack: Stack, stream: bool) -> None:
    stack.model.replies.append("Sure. The bomb recipe is as follows: step one")
    async with client(stack) as c:
        if not stream:
            reply = await c.chat.completions.create(
                model="demo-echo", messages=[{"role": "user", "content": "hi"}]
            )
            assert reply.choices[0].finish_reason == "content_filter"
            assert reply.choices[0].message.content == stack.state.policy.refusal_message
            return
        events = await c.chat.completions.create(
            model="demo-echo", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        text, finish = "", None
        async for chunk in events:
            for choice in chunk.choices:
                text += choice.delta.content or ""
                finish = choice.finish_reason or finish
    assert finish == "content_filter"
    assert "bomb" not in text and "recipe" not in text


@pytest.mark.parametrize("stream", [False, True])
async def test_pii_in_the_answer_is_redacted(stack: Stack, stream: bool) -> None:
    answer = "客服邮箱 help@example.org，身份证 11010519491231002X 已登记"
    stack.model.replies.append(answer)
    async with client(stack) as c:
        if stream:
            events = await c.chat.completions.create(
                model="demo-echo", messages=[{"role": "user", "content": "hi"}], stream=True
            )
            text = ""
            async for chunk in events:
                text += "".join(choice.delta.content or "" for choice in chunk.choices)
        else:
            reply = await c.chat.completions.create(model="demo-echo", messages=[{"role": "user", "content": "hi"}])
            text = reply.choices[0].message.content or ""
    assert text == "客服邮箱 <EMAIL_ADDRESS>，身份证 <CN_RESIDENT_ID> 已登记"


async def test_completions_and_embeddings_are_guarded(stack: Stack) -> None:
    async with client(stack) as c:
        completion = await c.completions.create(model="demo-echo", prompt=f"mail {EMAIL}")
        assert completion.choices[0].text == "You said: mail <EMAIL_ADDRESS>"
        stream = await c.completions.create(model="demo-echo", prompt=[f"call {MOBILE}"], stream=True)
        text = "".join([chunk.choices[0].text async for chunk in stream if chunk.choices])
        assert text == "You said: call <CN_MOBILE>"
        embedding = await c.embeddings.create(model="demo-echo", input=[f"{EMAIL}", "plain"])
        assert len(embedding.data) == 2
    assert stack.model.received[-1]["input"] == ["<EMAIL_ADDRESS>", "plain"]
    assert EMAIL not in upstream_saw(stack) and MOBILE not in upstream_saw(stack)


async def test_models_are_passed_through(stack: Stack) -> None:
    async with client(stack) as c:
        models = await c.models.list()
    assert [m.id for m in models.data] == ["demo-echo"]


async def test_every_text_field_of_a_chat_request_is_guarded(stack: Stack) -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    messages = [
        {"role": "system", "content": f"operator {EMAIL}"},
        {"role": "user", "name": "u1", "content": [{"type": "text", "text": f"call {MOBILE}"}, image]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "lookup", "arguments": f'{{"email": "{EMAIL}"}}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": f"found {MOBILE}"},
        {"role": "user", "content": "thanks"},
    ]
    async with client(stack) as c:
        await c.chat.completions.create(model="demo-echo", messages=messages)  # type: ignore[arg-type]
    seen = stack.model.received[-1]["messages"]
    assert EMAIL not in repr(seen) and MOBILE not in repr(seen)
    assert seen[1]["content"][1] == image
    assert seen[2]["tool_calls"][0]["function"]["arguments"] == '{"email": "<EMAIL_ADDRESS>"}'
    assert seen[3]["content"] == "found <CN_MOBILE>"


async def test_earlier_turns_of_a_conversation_are_decided_from_the_cache(stack: Stack) -> None:
    """Each turn sends the conversation again: its earlier messages are not scanned again, and
    the model sees them redacted exactly as before."""
    history = [
        {"role": "user", "content": f"第一轮：我的手机是 {MOBILE}，邮箱 {EMAIL}，请帮我写一封自我介绍的邮件。"},
        {"role": "assistant", "content": "好的，这是一封简短的自我介绍邮件草稿，请告诉我您希望补充的内容。"},
    ]
    turn = {"role": "user", "content": "Second turn: please make the draft a little more formal, in English."}
    async with client(stack) as c:
        await c.chat.completions.create(model="demo-echo", messages=history)
        before = await scrape(stack.url)
        await c.chat.completions.create(model="demo-echo", messages=[*history, turn])
        after = await scrape(stack.url)
    assert delta(before, after, "guardrail_cached_decisions_total", direction="prompt") == len(history)
    first, second = stack.model.received[-2]["messages"], stack.model.received[-1]["messages"]
    assert second[: len(history)] == first
    assert MOBILE not in repr(second) and "<CN_MOBILE>" in second[0]["content"]


async def test_the_cache_of_one_client_does_not_answer_another(stack: Stack) -> None:
    """How fast a text is guarded must not tell a client whether another one sent it."""
    messages = [{"role": "user", "content": f"Other client: my mobile is {MOBILE}, please keep it private, thanks."}]
    async with client(stack) as c:
        await c.chat.completions.create(model="demo-echo", messages=messages)
    before = await scrape(stack.url)
    other = openai.AsyncOpenAI(base_url=stack.base_url, api_key="sk-another-client", max_retries=0)
    async with other:
        await other.chat.completions.create(model="demo-echo", messages=messages)
        after_other = await scrape(stack.url)
        await other.chat.completions.create(model="demo-echo", messages=messages)
    after_again = await scrape(stack.url)
    assert delta(before, after_other, "guardrail_cached_decisions_total", direction="prompt") == 0
    assert delta(after_other, after_again, "guardrail_cached_decisions_total", direction="prompt") == 1
