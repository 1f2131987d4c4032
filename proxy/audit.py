"""The audit trail: one JSON line per guarded text flow, without the personal data removed.

A record names the request, route, model, a hashed client key id, the direction and action,
and each finding as rule, category, kind, offsets and a salted hash of the matched value (so
the same value can be traced across records by whoever holds the salt, and by nobody else).
Files rotate by size and by day; rotated files older than the retention are deleted. Every
record is flushed as written, so a clean shutdown (or a crash) loses nothing already decided.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

import orjson

from policies.actions import Hit, salted_hash
from proxy.metrics import Metrics

log = logging.getLogger(__name__)


class AuditError(RuntimeError):
    """The audit trail cannot be written (said at start, or counted while running)."""


@dataclass(frozen=True)
class AuditConfig:
    path: Path | None = None
    salt: bytes = b""
    max_bytes: int = 100 * 1024 * 1024
    retention_days: int = 180
    on_error: Literal["block", "allow"] = "block"


def describe(hit: Hit, param: str | None = None) -> dict[str, Any]:
    """A finding as clients and the audit trail see it: ids, kinds, offsets, never the text."""
    f = hit.finding
    out: dict[str, Any] = {
        "rule": hit.rule, "action": str(hit.action), "detector": f.detector, "source": f.rule,
        "category": f.category, "kind": f.kind, "start": f.start, "end": f.end,
    }
    if param is not None:
        out["param"] = param
    return out


def finding_record(hit: Hit, value: str, salt: bytes, param: str | None = None) -> dict[str, Any]:
    """`describe`, plus a salted hash of the matched value for the audit trail."""
    return describe(hit, param) | {"hash": salted_hash(value, salt)}


class AuditLog:
    """Appends audit records to `<path>`, rotating to `<stem>-<UTC time>.jsonl`."""

    def __init__(self, config: AuditConfig, metrics: Metrics) -> None:
        self.config = config
        self.metrics = metrics
        self._file: IO[bytes] | None = None
        self._day: dt.date | None = None

    @property
    def enabled(self) -> bool:
        return self.config.path is not None

    def open(self) -> None:
        """Open (or create) the current file; fails loudly at start rather than drop records."""
        if self.config.path is None:
            return
        if not self.config.salt:
            raise AuditError("an audit salt is required (GUARDRAIL_AUDIT_SALT): hashes without one are guessable")
        try:
            self.config.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.config.path, "ab")  # noqa: SIM115 - kept open for the app's lifetime
        except OSError as exc:
            raise AuditError(f"cannot write the audit trail at {self.config.path}: {exc.strerror or exc}") from None
        self._day = dt.datetime.now(dt.UTC).date()
        self._expire_old()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def write(self, record: dict[str, Any]) -> bool:
        """Append one record; False (counted, logged) when it could not be written."""
        if self._file is None:
            return not self.enabled
        try:
            self._rotate_if_due()
            self._file.write(orjson.dumps(record) + b"\n")
            self._file.flush()
            return True
        except (OSError, ValueError) as exc:
            self.metrics.audit_write_failures.inc()
            log.error("audit record not written (%s): %s", self.config.on_error, exc)
            return False

    def record(
        self,
        *,
        request_id: str,
        route: str,
        model: str | None,
        client: str,
        tenant: str | None = None,
        direction: str,
        action: str,
        findings: Sequence[dict[str, Any]],
        policy: str,
    ) -> bool:
        return self.write({
            "time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
            "request_id": request_id, "route": route, "model": model, "client": client, "tenant": tenant,
            "direction": direction, "action": action, "policy": policy, "findings": list(findings),
        })

    def _rotate_if_due(self) -> None:
        assert self._file is not None and self.config.path is not None
        today = dt.datetime.now(dt.UTC).date()
        if today == self._day and self._file.tell() < self.config.max_bytes:
            return
        self._file.close()
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
        os.replace(self.config.path, self.config.path.with_name(f"{self.config.path.stem}-{stamp}.jsonl"))
        self._file = open(self.config.path, "ab")  # noqa: SIM115
        self._day = today
        self._expire_old()

    def _expire_old(self) -> None:
        assert self.config.path is not None
        cutoff = time.time() - self.config.retention_days * 86400
        for old in self.config.path.parent.glob(f"{self.config.path.stem}-*.jsonl"):
            try:
                if old.stat().st_mtime < cutoff:
                    old.unlink()
            except OSError as exc:
                log.warning("could not expire audit file %s: %s", old.name, exc)


def client_id(authorization: str | None, salt: bytes) -> str:
    """A stable, non-reversible id for the client's key: never the key itself."""
    if not authorization:
        return "anonymous"
    return "key-" + salted_hash(authorization.removeprefix("Bearer ").strip(), salt, 12)
