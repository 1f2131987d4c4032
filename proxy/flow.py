"""One guarded request's context: state, the policy it started on, identity, audit."""

from __future__ import annotations

import asyncio
import contextlib
import time
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import re2

from policies.engine import Policy
from policies.findings import Action, Direction
from policies.light_view import NUMERAL_DIGITS, re2_class
from proxy.errors import GuardUnavailable
from proxy.openai import Route
from proxy.state import ProxyState

T = TypeVar("T")

#: What a digit weighs against a character of prose when `Flow.run` decides where to guard a
#: text. Numbers are what phonenumbers reads, at up to ~40 µs a digit: a 4 KB prompt of made-up
#: international numbers (`+1234567 +2345678 …`, each read in all nine regions) costs ~120 ms,
#: against ~0.4 ms for 1 KB of prose with six identifiers in it. Weighed so, a text that may be
#: guarded inline holds at most ~340 digits, ~15 ms at that rate.
DIGIT_WEIGHT = 12
#: What each text past the first weighs besides its characters: guarding a message costs ~20 µs
#: however short it is (4,000 one-letter messages took 77 ms).
SLOT_WEIGHT = 32
_ASCII_DIGITS = b"0123456789"


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


def guard_weight(texts: Iterable[str | bytes], limit: int) -> int:
    """What guarding `texts` may cost, in characters of prose (see `DIGIT_WEIGHT`, and
    `SLOT_WEIGHT` for each text), as far as it decides anything: texts heavier than `limit` by
    their length are not weighed further. ASCII digits are counted on the UTF-8 bytes, other
    digits and numerals by one RE2 pass (a few µs a KB)."""
    texts = list(texts)
    length = sum(map(len, texts)) + SLOT_WEIGHT * (len(texts) - 1)
    if length > limit:
        return length
    digits = 0
    for text in texts:
        data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
        digits += len(data) - len(data.translate(None, _ASCII_DIGITS))
        if not data.isascii():
            digits += sum(len(run.decode("utf-8", "replace")) for run in _OTHER_DIGITS.findall(data))
    return length + DIGIT_WEIGHT * digits


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
