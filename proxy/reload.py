"""Hot reload: rebuild the policy off the event loop when its files change or on SIGHUP.

A bad file leaves the old policy serving; the failure is logged and counted. The swap is one
assignment, so requests in flight finish on the policy they started with.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from pathlib import Path

from policies.config import PolicyError
from policies.engine import Policy
from policies.loader import file_stamps, load_policy, policy_files
from proxy.state import ProxyState

log = logging.getLogger(__name__)


def _fingerprint(files: tuple[Path, ...]) -> tuple[tuple[str, int, int], ...]:
    """What identifies a version of the files: path, mtime and size (a ConfigMap swap changes both)."""
    return file_stamps(files)


def _seen(policy: Policy) -> tuple[tuple[str, int, int], ...]:
    """The policy's files as they were before it read them: a change made during the build
    (a lexicon still being written) differs from these, and the watcher reloads again."""
    return policy.read_stamps or _fingerprint(policy.files)


#: Builds in a row a reload leaves unserved because a file changed while it was read; the next
#: is served whatever happens, so a lexicon that a feed appends to all the time still gets in.
SETTLE_TRIES = 3
#: Seconds before a build left unserved is tried again when no watcher polls the files.
RETRY_SECONDS = 1.0


class PolicyReloader:
    """Watches the current policy's files and swaps in a rebuilt policy when they change."""

    def __init__(self, state: ProxyState, path: Path | None, tenant: str | None = None) -> None:
        self.state = state
        self.path = path
        self.tenant = tenant
        self._watched = self.current.files
        self._seen = _seen(self.current)
        self._lock = asyncio.Lock()
        self._unsettled = 0  # builds in a row not served because a file changed while it was read
        self._watching = False  # whether `watch` runs, to try again after such a build
        self._retries: set[asyncio.Task[bool]] = set()

    @property
    def current(self) -> Policy:
        return self.state.policy_for(self.tenant)

    async def reload(self, reason: str) -> bool:
        """Rebuild and swap; returns whether the new policy is now serving."""
        async with self._lock:
            watched, fingerprint = self._watched, self._seen
            loop = asyncio.get_running_loop()
            try:
                # What to watch if this build fails: the serving policy's files and those the new
                # policy file names (the fix may be in a lexicon only it uses), as they are now.
                # Off the loop too: a policy file is YAML to parse (700 KB took 0.7 s; review).
                named = await loop.run_in_executor(None, policy_files, self.path)
                watched = tuple(dict.fromkeys([*self.current.files, *named]))
                fingerprint = _fingerprint(watched)
                policy = await loop.run_in_executor(
                    None, load_policy, self.path, self.current  # unchanged detectors are taken over
                )
            except Exception as exc:
                self._watched, self._seen = watched, fingerprint  # no retry until one of them changes
                self.state.metrics.policy_reloads.labels("failure").inc()
                message = str(exc) if isinstance(exc, (PolicyError, OSError)) else f"{type(exc).__name__} while loading"
                log.error("policy reload (%s) failed; the previous policy keeps serving: %s", reason, message)
                return False
            if _fingerprint(policy.files) != _seen(policy) and self._unsettled < SETTLE_TRIES:
                # A file changed while it was read (a lexicon still being written): what was built
                # matches no state of it. The old policy keeps serving; the next check tries again.
                self._unsettled += 1
                log.info("policy reload (%s) skipped: a file changed while it was read; trying again", reason)
                if not self._watching:  # no watcher to try again (`--reload-interval 0`): do it here
                    loop.call_later(RETRY_SECONDS, self._retry, reason)
                return False
            if self._unsettled >= SETTLE_TRIES:
                log.warning("policy files kept changing during %d builds; serving the latest build", SETTLE_TRIES)
            self._unsettled = 0
            self.state.set_policy(policy, self.tenant)
            gc.freeze()  # the new policy's objects are long-lived too (see cli._serve_one)
            self._watched, self._seen = policy.files, _seen(policy)
            self.state.metrics.policy_reloads.labels("success").inc()
            log.info("policy reloaded (%s): %s version %s, %d terms", reason, policy.name, policy.version,
                     policy.term_count)
            return True

    def _retry(self, reason: str) -> None:
        task = asyncio.get_running_loop().create_task(self.reload(reason))
        self._retries.add(task)
        task.add_done_callback(self._retries.discard)

    async def watch(self, interval: float) -> None:
        """Check the files every `interval` seconds; nothing a file does stops the watching."""
        self._watching = True
        while True:
            await asyncio.sleep(interval)
            try:
                changed = _fingerprint(self._watched) != self._seen
            except Exception as exc:
                log.error("checking the policy files failed (%s); checking again", type(exc).__name__)
                continue
            if changed:
                await self.reload("files changed")
