"""Hot reload in a running proxy: a new term is enforced within 2 s, with no failed request;
a broken file leaves the old policy serving and is counted."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from policies.loader import load_policy
from tests.support.servers import Stack, proxy_stack

POLICY = """
name: reload-test
version: "{version}"
detectors:
  words: {{type: keywords, files: [{{path: words.txt, category: A.1.h}}]}}
prompt:
  - {{id: block-words, detector: words, action: block}}
"""


def write_policy(tmp_path: Path, version: str, words: str) -> Path:
    (tmp_path / "words.txt").write_text(words, encoding="utf-8")
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY.format(version=version), encoding="utf-8")
    return path


async def ask(session: aiohttp.ClientSession, stack: Stack, text: str) -> int:
    body = orjson.dumps({"model": "demo-echo", "messages": [{"role": "user", "content": text}]})
    async with session.post(f"{stack.base_url}/chat/completions", data=body) as response:
        await response.read()
        return response.status


async def metric(session: aiohttp.ClientSession, stack: Stack, line: str) -> bool:
    async with session.get(f"{stack.url}/metrics") as response:
        return line in await response.text()


async def test_new_term_enforced_within_two_seconds_without_failures(tmp_path: Path) -> None:
    path = write_policy(tmp_path, "1", "oldterm\n")
    async with proxy_stack(load_policy(path), policy_path=path, reload=0.2) as stack, aiohttp.ClientSession() as session:
        statuses: list[int] = []
        stop = asyncio.Event()

        async def traffic() -> None:  # requests keep flowing while the policy is swapped
            while not stop.is_set():
                statuses.append(await ask(session, stack, "an ordinary question"))

        background = asyncio.create_task(traffic())
        assert await ask(session, stack, "say emergencyterm") == 200
        (tmp_path / "words.txt").write_text("oldterm\nemergencyterm\n", encoding="utf-8")
        added = time.monotonic()
        while await ask(session, stack, "say emergencyterm") != 400:
            assert time.monotonic() - added < 2.0, "the new term was not enforced within 2 s"
            await asyncio.sleep(0.05)
        stop.set()
        await background
        assert statuses and set(statuses) == {200}
        assert await metric(session, stack, 'guardrail_policy_reloads_total{result="success"} 1.0')


async def test_broken_file_keeps_the_old_policy(tmp_path: Path) -> None:
    path = write_policy(tmp_path, "1", "oldterm\n")
    async with proxy_stack(load_policy(path), policy_path=path, reload=0.2) as stack, aiohttp.ClientSession() as session:
        (tmp_path / "words.txt").write_bytes(b"oldterm\n\xff\xfe broken utf-8\n")
        deadline = time.monotonic() + 5
        while not await metric(session, stack, 'guardrail_policy_reloads_total{result="failure"} 1.0'):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
        assert await ask(session, stack, "oldterm again") == 400  # the old policy still serves
        assert stack.state.policy.version == "1"


TWO_LEXICONS = """
name: reload-test
version: "1"
detectors:
  library: {type: keywords, files: [{path: library.txt, category: A.1.h}]}
  words: {type: keywords, files: [{path: words.txt, category: A.1.h}]}
  pii: {type: pii}
prompt:
  - {id: block-library, detector: library, action: block}
  - {id: block-words, detector: words, action: block}
"""


def two_lexicons(tmp_path: Path, library_terms: int) -> Path:
    (tmp_path / "library.txt").write_text("".join(f"libraryterm{i}\n" for i in range(library_terms)), encoding="utf-8")
    path = write_policy(tmp_path, "1", "oldterm\n")
    path.write_text(TWO_LEXICONS, encoding="utf-8")
    return path


async def blocked_within(session: aiohttp.ClientSession, stack: Stack, text: str, seconds: float) -> None:
    changed = time.monotonic()
    while await ask(session, stack, text) != 400:
        assert time.monotonic() - changed < seconds, f"not enforced within {seconds} s"
        await asyncio.sleep(0.05)


async def test_a_reload_rebuilds_only_the_changed_lexicon(tmp_path: Path) -> None:
    """The big library's automaton and Presidio's recognizers are taken over, not rebuilt."""
    path = two_lexicons(tmp_path, 1000)
    async with proxy_stack(load_policy(path), policy_path=path, reload=0.2) as stack, aiohttp.ClientSession() as session:
        before = stack.state.policy
        (tmp_path / "words.txt").write_text("oldterm\nemergencyterm\n", encoding="utf-8")
        await blocked_within(session, stack, "say emergencyterm", 5.0)
        after = stack.state.policy
        assert after is not before
        assert after.detectors["library"] is before.detectors["library"]
        assert after.detectors["pii"] is before.detectors["pii"]
        assert after.detectors["words"] is not before.detectors["words"]
        assert await ask(session, stack, "say libraryterm999") == 400


async def test_a_term_appended_to_the_library_is_enforced_without_rebuilding_it(tmp_path: Path) -> None:
    """`printf 'term\\tA.1.h\\n' >> library.txt`: the library's automaton stays, the line goes beside it."""
    path = two_lexicons(tmp_path, 20_000)
    async with proxy_stack(load_policy(path), policy_path=path, reload=0.2) as stack, aiohttp.ClientSession() as session:
        before = stack.state.policy
        with (tmp_path / "library.txt").open("a", encoding="utf-8") as library:
            library.write("紧急违禁词\n")
        await blocked_within(session, stack, "请说 紧急 违禁 词", 2.0)
        after = stack.state.policy
        assert getattr(after.detectors["library"], "base", None) is before.detectors["library"]
        assert after.detectors["pii"] is before.detectors["pii"]
        assert await ask(session, stack, "say libraryterm19999") == 400
        assert after.term_count == before.term_count + 1


async def test_a_lexicon_written_during_a_reload_is_reloaded_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer finishes a half-written line while the reload reads it (third review)."""
    from policies.detectors import keywords

    path = write_policy(tmp_path, "1", "oldterm\n")
    words = tmp_path / "words.txt"
    read = keywords.read_lexicon

    def read_while_the_writer_finishes(*args: Any, **kwargs: Any) -> Any:
        yield from read(*args, **kwargs)
        if words.read_text(encoding="utf-8").endswith("emergen"):
            with words.open("a", encoding="utf-8") as file:
                file.write("cyterm\n")

    async with proxy_stack(load_policy(path), policy_path=path, reload=0.2) as stack, aiohttp.ClientSession() as session:
        monkeypatch.setattr(keywords, "read_lexicon", read_while_the_writer_finishes)
        words.write_text("oldterm\nemergen", encoding="utf-8")  # mid-line: the watcher sees a change
        await blocked_within(session, stack, "say emergencyterm", 3.0)


async def test_a_lexicon_written_while_another_is_read_is_reloaded_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The library changes while the reload reads the other lexicon (fourth review)."""
    from policies.detectors import keywords

    path = two_lexicons(tmp_path, 100)
    library, words = tmp_path / "library.txt", tmp_path / "words.txt"
    read = keywords.read_lexicon

    def read_while_the_library_changes(*args: Any, **kwargs: Any) -> Any:
        yield from read(*args, **kwargs)
        if str(args[0]) == str(words) and "latecomer" not in library.read_text(encoding="utf-8"):
            with library.open("a", encoding="utf-8") as file:
                file.write("latecomer\n")

    async with proxy_stack(load_policy(path), policy_path=path, reload=0.2) as stack, aiohttp.ClientSession() as session:
        monkeypatch.setattr(keywords, "read_lexicon", read_while_the_library_changes)
        words.write_text("oldterm\nemergencyterm\n", encoding="utf-8")
        await blocked_within(session, stack, "say emergencyterm", 3.0)
        await blocked_within(session, stack, "say latecomer", 3.0)  # the library was taken over before it changed


async def test_a_fix_to_a_file_only_the_new_policy_names_is_reloaded(tmp_path: Path) -> None:
    """The new policy adds a lexicon with a bad line; fixing that lexicon alone is enough (fifth review)."""
    path = write_policy(tmp_path, "1", "oldterm\n")
    async with proxy_stack(load_policy(path), policy_path=path, reload=0.2) as stack, aiohttp.ClientSession() as session:
        (tmp_path / "more.txt").write_bytes(b"newterm\n\xff broken\n")
        path.write_text(POLICY.format(version="2").replace(
            "  words: {type: keywords, files: [{path: words.txt, category: A.1.h}]}",
            "  words: {type: keywords, files: [{path: words.txt, category: A.1.h}, {path: more.txt, category: A.1.h}]}",
        ), encoding="utf-8")
        deadline = time.monotonic() + 5
        while not await metric(session, stack, 'guardrail_policy_reloads_total{result="failure"} 1.0'):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
        (tmp_path / "more.txt").write_text("newterm\n", encoding="utf-8")
        await blocked_within(session, stack, "say newterm", 3.0)
        assert stack.state.policy.version == "2"


async def test_a_lexicon_changed_while_read_is_not_served_until_it_reads_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slow in-place save: the reload reads the file cut short, then the rest arrives. What it
    read must not serve, even for a moment (review: terms went unenforced for seconds)."""
    from policies.detectors import keywords

    path = write_policy(tmp_path, "1", "oldterm\nkeepterm\n")
    words = tmp_path / "words.txt"
    read = keywords.read_lexicon

    def read_while_the_writer_goes_on(*args: Any, **kwargs: Any) -> Any:
        yield from read(*args, **kwargs)
        if words.read_text(encoding="utf-8") == "oldterm\n":
            with words.open("a", encoding="utf-8") as file:
                file.write("keepterm\nnewterm\n")

    async with proxy_stack(load_policy(path), policy_path=path, reload=0.2) as stack, aiohttp.ClientSession() as session:
        monkeypatch.setattr(keywords, "read_lexicon", read_while_the_writer_goes_on)
        words.write_text("oldterm\n", encoding="utf-8")  # truncated and partly rewritten
        deadline = time.monotonic() + 3
        while await ask(session, stack, "say newterm") != 400:
            assert await ask(session, stack, "say keepterm") == 400, "a half-written lexicon served"
            assert time.monotonic() < deadline
        assert await ask(session, stack, "say keepterm") == 400


@pytest.mark.parametrize("broken", [
    '  words: {type: keywords, files: [{path: "words\\0.txt", category: A.1.h}]}\n',  # a NUL in a path
    "x: " + "[" * 3000 + "]" * 3000 + "\n",  # nested too deeply for the YAML parser
])
async def test_no_broken_file_stops_the_watching(tmp_path: Path, broken: str) -> None:
    """Review: these made the watcher task die unseen; a later fix and new terms went unnoticed."""
    path = write_policy(tmp_path, "1", "oldterm\n")
    good = path.read_text(encoding="utf-8")
    async with proxy_stack(load_policy(path), policy_path=path, reload=0.2) as stack, aiohttp.ClientSession() as session:
        path.write_text(good + broken if broken.startswith("x") else good.replace(
            "  words: {type: keywords, files: [{path: words.txt, category: A.1.h}]}\n", broken), encoding="utf-8")
        deadline = time.monotonic() + 5
        while not await metric(session, stack, 'guardrail_policy_reloads_total{result="failure"} 1.0'):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
        path.write_text(good, encoding="utf-8")
        (tmp_path / "words.txt").write_text("oldterm\nnewterm\n", encoding="utf-8")
        await blocked_within(session, stack, "say newterm", 3.0)


async def test_a_lexicon_that_never_stops_changing_still_gets_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A feed appends to the lexicon during every build: after `SETTLE_TRIES` builds left
    unserved, the latest is served anyway, so the feed's terms are not starved out."""
    from policies.detectors import keywords

    path = write_policy(tmp_path, "1", "oldterm\n")
    words = tmp_path / "words.txt"
    read = keywords.read_lexicon
    fed = iter(range(1_000_000))

    def read_while_a_feed_appends(*args: Any, **kwargs: Any) -> Any:
        yield from read(*args, **kwargs)
        with words.open("a", encoding="utf-8") as file:
            file.write(f"feedterm{next(fed)}\n")

    async with proxy_stack(load_policy(path), policy_path=path, reload=0.2) as stack, aiohttp.ClientSession() as session:
        monkeypatch.setattr(keywords, "read_lexicon", read_while_a_feed_appends)
        with words.open("a", encoding="utf-8") as file:
            file.write("emergencyterm\n")
        await blocked_within(session, stack, "say emergencyterm", 5.0)


async def test_with_sighup_only_a_build_left_unserved_is_tried_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--reload-interval 0`: no watcher polls the files, so the reloader itself tries again
    after a build that read a lexicon while it changed (review: it waited for another SIGHUP)."""
    from policies.detectors import keywords
    from proxy.app import RELOADERS

    path = write_policy(tmp_path, "1", "oldterm\n")
    words = tmp_path / "words.txt"
    read = keywords.read_lexicon

    def read_while_the_writer_finishes(*args: Any, **kwargs: Any) -> Any:
        yield from read(*args, **kwargs)
        if "newterm" not in words.read_text(encoding="utf-8"):
            with words.open("a", encoding="utf-8") as file:
                file.write("newterm\n")

    async with proxy_stack(load_policy(path), policy_path=path, reload=0) as stack, aiohttp.ClientSession() as session:
        monkeypatch.setattr(keywords, "read_lexicon", read_while_the_writer_finishes)
        words.write_text("oldterm\nfirstterm\n", encoding="utf-8")
        assert not await stack.app[RELOADERS][0].reload("SIGHUP")  # the file changed while it was read
        await blocked_within(session, stack, "say newterm", 3.0)
