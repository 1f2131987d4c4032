"""The audit trail: what a record holds, rotation, retention, and failures said out loud."""

from __future__ import annotations

import os
import time
from pathlib import Path

import orjson
import pytest

from policies.actions import Hit, salted_hash
from policies.findings import Action, Finding
from proxy.audit import AuditConfig, AuditError, AuditLog, client_id, finding_record
from proxy.metrics import Metrics


def audit_log(tmp_path: Path, **kwargs: object) -> AuditLog:
    log = AuditLog(AuditConfig(path=tmp_path / "audit.jsonl", salt=b"pepper", **kwargs), Metrics())  # type: ignore[arg-type]
    log.open()
    return log


def test_record_has_hashes_not_values(tmp_path: Path) -> None:
    hit = Hit(Finding("pii", "CN_MOBILE", "pii", 5, 16, 1.0, "pii.CN_MOBILE"), "redact-pii", Action.REDACT)
    log = audit_log(tmp_path)
    assert log.record(request_id="r1", route="chat/completions", model="m", client=client_id("Bearer sk-abc", b"pepper"),
                      direction="prompt", action="redact", findings=[finding_record(hit, "13812345678", b"pepper", "messages[0].content")],
                      policy="default@1")
    log.close()
    raw = (tmp_path / "audit.jsonl").read_bytes()
    assert b"13812345678" not in raw and b"sk-abc" not in raw
    record = orjson.loads(raw)
    assert record["findings"][0] | {} == {
        "rule": "redact-pii", "action": "redact", "detector": "pii", "source": "pii.CN_MOBILE", "category": "pii",
        "kind": "CN_MOBILE", "start": 5, "end": 16, "param": "messages[0].content",
        "hash": salted_hash("13812345678", b"pepper"),
    }
    assert record["client"].startswith("key-") and record["request_id"] == "r1"


def test_rotates_by_size_and_expires_old_files(tmp_path: Path) -> None:
    old = tmp_path / "audit-20200101T000000000000.jsonl"
    old.write_text("{}\n")
    os.utime(old, (time.time() - 200 * 86400,) * 2)
    log = audit_log(tmp_path, max_bytes=200, retention_days=180)
    assert not old.exists()
    for i in range(10):
        assert log.write({"i": i, "pad": "x" * 50})
    log.close()
    rotated = sorted(tmp_path.glob("audit-*.jsonl"))
    assert rotated, "no rotation happened"
    lines = [orjson.loads(line) for f in [*rotated, tmp_path / "audit.jsonl"] for line in f.read_bytes().splitlines()]
    assert sorted(r["i"] for r in lines) == list(range(10))  # nothing lost across rotations


def test_unwritable_path_fails_at_start(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(AuditError, match="cannot write the audit trail"):
        AuditLog(AuditConfig(path=blocker / "audit.jsonl", salt=b"s"), Metrics()).open()


def test_a_salt_is_required(tmp_path: Path) -> None:
    with pytest.raises(AuditError, match="salt"):
        AuditLog(AuditConfig(path=tmp_path / "a.jsonl"), Metrics()).open()


def test_write_failures_are_counted(tmp_path: Path) -> None:
    log = audit_log(tmp_path)
    assert log._file is not None
    log._file.close()  # the disk went away under us
    assert not log.write({"x": 1})
    assert log.metrics.audit_write_failures._value.get() == 1
