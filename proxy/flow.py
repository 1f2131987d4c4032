"""One guarded request's context: state, the policy it started on, identity, audit."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import re2

from policies.detectors.phone import PUNCTUATION
from policies.detectors.utf8_text import byte_spans, has_match, iter_byte_spans
from policies.engine import Policy
from policies.findings import Action, Direction
from policies.light_view import NUMERAL_DIGITS, re2_class
from policies.normalize import symbol_letter_runs, symbol_readings_of
from proxy.errors import GuardUnavailable
from proxy.openai import Route
from proxy.state import ProxyState

T = TypeVar("T")

#: What a digit weighs against a character of prose when `Flow.run` decides where to guard a
#: text. Numbers are what phonenumbers reads, at up to ~40 µs a digit: a 4 KB prompt of made-up
#: international numbers (`+1234567 +2345678 …`, each read in all nine regions) costs ~120 ms,
#: against ~0.4 ms for 1 KB of prose with six identifiers in it.
DIGIT_WEIGHT = 12
#: What each run of digits weighs on top of its digits. Short groups cost phonenumbers most: it
#: tries each candidate whole, then inner groups of it, in each region. A context word before
#: rows of one- or two-digit groups (`电话1/2/3/4/5/6/7/8/9/0 …`, `tel 12 34 56 …`) cost 80-165 µs
#: a digit, 25-46 ms for 600 characters guarded inline.
RUN_WEIGHT = 56
#: Runs of digits that one candidate of phonenumbers may chain (up to four of its punctuation
#: characters between two runs) weigh `CHAIN_RUN_WEIGHT` more each past the first
#: `CHAIN_FREE_RUNS`: a chain's cost grows with its length, ~0.75 ms a run for `tel 123 / 456 /
#: 789 / …` (15 ms for 20 runs, 61 ms for 244 characters of such chains). A card number in
#: groups of four or an IPv4 address is a chain of four. Weighed so, a text guarded inline costs
#: at most ~15 ms in every layout `tests/proxy/test_flow.py` tries.
CHAIN_FREE_RUNS = 4
CHAIN_RUN_WEIGHT = 200
#: What each `+` weighs: the phone matcher reads the text apart at each one after a number's
#: digits, and asks every region about each piece that holds more than one number or group
#: (`机(+1547 / 23` twenty times cost 31 ms; review).
PLUS_WEIGHT = 256
#: What each run of symbols that read as letters weighs (`™`, `ⓐ`, `🇨`, `🅾`, `①`), besides the
#: text's length once more for each reading keyword matching makes of it (one per combination of
#: the kinds present, up to 31: `normalize.symbol_readings_of`), each scanned and its hits
#: checked (4 KB of `网络赌博🇦🅾ⓐ™` cost 40-130 ms; one run of five kinds before 3,900 characters of
#: terms, 66 ms; review).
SYMBOL_WEIGHT = 64
#: What each text past the first weighs besides its characters: guarding a message costs ~20 µs
#: however short it is (4,000 one-letter messages took 77 ms).
SLOT_WEIGHT = 32
_ASCII_DIGITS = b"0123456789"
#: Bytes to "1" for an ASCII digit and "0" for any other byte: digits and their runs are counted
#: on the result with `bytes.count`, at C speed.
_DIGIT_MARKS = bytes(0x31 if byte in _ASCII_DIGITS else 0x30 for byte in range(256))
#: Every character the phone matcher reads as a plus sign once the light view has folded it.
_PLUS_SIGNS = tuple(ch.encode() for ch in "+＋﹢⁺₊")


def _other_digits_pattern() -> re2._Regexp:
    """Runs of what the guard may read as digits besides ASCII ones: every other decimal digit
    (Arabic-Indic, Thai, full-width, math bold …), other numbers (superscripts, circled),
    Chinese numerals, and what folds to one of those (Kangxi `⼀`, compatibility ideographs,
    `🈩`), from `unicodedata` once."""
    return re2.compile(re2_class(cp for cp in range(0x80, 0x30000) if _reads_as_digit(chr(cp))) + "+")


def _reads_as_digit(ch: str) -> bool:
    if ch in NUMERAL_DIGITS or unicodedata.category(ch) in ("Nd", "No"):
        return True
    folded = unicodedata.normalize("NFKC", ch)
    return len(folded) == 1 and folded != ch and _reads_as_digit(folded)


_OTHER_DIGITS = _other_digits_pattern()
_DIGIT = f"(?:[0-9]|{_OTHER_DIGITS.pattern[:-1]})"  # the class, without its "+"
#: A chain of more than `CHAIN_FREE_RUNS` runs of digits.
_LONG_CHAIN = re2.compile(f"{_DIGIT}+(?:[{PUNCTUATION}X]{{1,4}}{_DIGIT}+){{{CHAIN_FREE_RUNS},}}")


def guard_weight(texts: Iterable[str | bytes], limit: int) -> int:
    """What guarding `texts` may cost, in characters of prose (see `DIGIT_WEIGHT`, `RUN_WEIGHT`,
    `CHAIN_RUN_WEIGHT`, `PLUS_WEIGHT`, `SYMBOL_WEIGHT`, and `SLOT_WEIGHT` for each text), as far
    as it decides anything: once over `limit`, it is not weighed further. ASCII digits and plus
    signs are counted on the UTF-8 bytes at C speed, other digits, numerals and symbols by RE2,
    a Python step each, so stopping at the limit bounds the weighing too (~50 µs at most)."""
    texts = list(texts)
    weight = sum(map(len, texts)) + SLOT_WEIGHT * (len(texts) - 1)
    for text in texts:
        if weight > limit:
            return weight
        data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
        digits, runs = _ascii_digits(data)
        weight += DIGIT_WEIGHT * digits + RUN_WEIGHT * runs + PLUS_WEIGHT * sum(map(data.count, _PLUS_SIGNS))
        if not data.isascii() and _has_exotic(data):  # one pass: most texts have neither
            weight += len(data) * symbol_readings_of(data)  # UTF-8 bytes: one to four a character
            for pattern, per_run in ((_OTHER_DIGITS, RUN_WEIGHT), (symbol_letter_runs(), SYMBOL_WEIGHT)):
                for start, end in iter_byte_spans(pattern, data):
                    if weight > limit:
                        return weight
                    weight += per_run
                    if pattern is _OTHER_DIGITS:
                        runs += 1
                        weight += DIGIT_WEIGHT * len(data[start:end].decode("utf-8", "replace"))
        if runs > CHAIN_FREE_RUNS:
            for start, end in iter_byte_spans(_LONG_CHAIN, data):
                if weight > limit:
                    return weight
                weight += CHAIN_RUN_WEIGHT * (_runs(data[start:end]) - CHAIN_FREE_RUNS)
    return weight


def _has_exotic(data: bytes) -> bool:
    """Whether `data` has a digit or numeral `_OTHER_DIGITS` weighs, or a symbol that
    `symbol_letter_runs` does (an event's weighing is on every stream chunk's path)."""
    return has_match(_exotic(), data)


@functools.cache
def _exotic() -> re2._Regexp:
    return re2.compile(f"{_OTHER_DIGITS.pattern[:-1]}|{symbol_letter_runs().pattern[:-1]}")


def _ascii_digits(data: bytes) -> tuple[int, int]:
    """How many ASCII digits `data` holds, and in how many runs: counted at C speed."""
    marks = data.translate(_DIGIT_MARKS)
    return marks.count(b"1"), marks.count(b"01") + marks.startswith(b"1")


def _runs(data: bytes) -> int:
    """How many runs of digits `data` holds: ASCII ones counted at C speed, others by RE2
    (each match costs a Python call: `findall` costs ~2.5 µs a match, this ~0.7)."""
    runs = _ascii_digits(data)[1]
    return runs if data.isascii() else runs + len(byte_spans(_OTHER_DIGITS, data))


@dataclass
class Flow:
    """One guarded request: who asked, on which policy, and where its audit records go."""

    state: ProxyState
    policy: Policy
    route: Route
    request_id: str
    client: str
    tenant: str | None = None
    model: str | None = None

    @property
    def audit_salt(self) -> bytes | None:
        return self.state.audit.config.salt if self.state.audit.enabled else None

    async def run(self, weight: int, direction: Direction, work: Callable[..., T], *args: Any) -> T:
        """Run guard work: inline when the text is light (`guard_weight`; the common case, well
        under a millisecond), else on the guard's thread pool under the time budget, so neither
        a 10 MB prompt nor 4 KB of crafted numbers can stall every other request. Past the
        budget the request fails closed (503). A request cancelled meanwhile (its client went
        away) still waits, within the budget, for the work it started: a thread cannot be
        stopped, and what it finds belongs in the audit record written after it."""
        settings = self.state.settings
        if weight <= settings.guard_inline_chars:
            return work(*args)
        future = asyncio.get_running_loop().run_in_executor(self.state.guard_executor, work, *args)
        started = time.perf_counter()
        try:
            return await asyncio.wait_for(asyncio.shield(future), settings.guard_timeout_seconds)
        except asyncio.CancelledError:
            left = settings.guard_timeout_seconds - (time.perf_counter() - started)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(future), max(0.0, left))
            raise
        except TimeoutError:
            self.state.metrics.fail_closed.labels(str(direction), "guard_timeout").inc()
            raise GuardUnavailable(
                f"The guard could not finish within {settings.guard_timeout_seconds:g} s, so the text was not forwarded"
            ) from None

    def audit(self, direction: Direction, action: Action, findings: list[dict[str, Any]]) -> bool:
        """Write the audit record; False when it failed and the configuration says fail closed."""
        if not self.state.audit.enabled:
            return True
        written = self.state.audit.record(
            request_id=self.request_id, route=str(self.route), model=self.state.model_name(self.model),
            client=self.client, tenant=self.tenant,
            direction=str(direction), action=str(action), findings=findings,
            policy=f"{self.policy.name}@{self.policy.version}",
        )
        if written or self.state.audit.config.on_error == "allow":
            return True
        self.state.metrics.fail_closed.labels(str(direction), "audit_unavailable").inc()
        return False
