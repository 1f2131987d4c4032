"""`guardrail-proxy check` and `scan`, as a user runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

CLI = [sys.executable, "-m", "proxy.cli"]


def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], input=stdin, capture_output=True, text=True, timeout=120)


def test_check_summarises_the_default_pack() -> None:
    out = run("check", "policies/packs/default.yaml")
    assert out.returncode == 0, out.stderr
    assert "policy default version" in out.stdout
    assert "prompt rule block-secrets: secrets -> block" in out.stdout
    assert "completion stream hold-back: at most" in out.stdout
    assert "A.1.h: 2" in out.stdout
    assert "keyword library: 6 distinct terms in all, the standard asks for at least 10000" in out.stdout


def check_keywords(tmp_path: Path, detectors: str, blocking: list[str]) -> subprocess.CompletedProcess[str]:
    """`check` on a policy of these keyword detectors, each with a block rule; it must pass."""
    policy = tmp_path / "p.yaml"
    rules = ", ".join(f"{{id: r{name}, detector: {name}, action: block}}" for name in blocking)
    policy.write_text(f"name: p\nversion: '1'\ndetectors:\n{detectors}prompt: [{rules}]\n", encoding="utf-8")
    out = run("check", str(policy))
    assert out.returncode == 0, out.stderr
    return out


def test_check_counts_a_lexicon_shared_by_two_detectors_once(tmp_path: Path) -> None:
    (tmp_path / "words.txt").write_text("".join(f"term{i}\n" for i in range(6000)), encoding="utf-8")
    (tmp_path / "more.txt").write_text("term1\nterm5999\nextra\n", encoding="utf-8")
    out = check_keywords(tmp_path,
                         "  a: {type: keywords, files: [{path: words.txt, category: A.1.a}]}\n"
                         "  b: {type: keywords, files: [{path: words.txt, category: A.1.a}, "
                         "{path: more.txt, category: A.1.a}]}\n", ["a", "b"])
    assert "lexicon terms: 6001 distinct, 6001 of them in the standard's risks" in out.stdout
    assert "A.1.a: 6001" in out.stdout
    assert "keyword library: 6001 distinct terms in all, the standard asks for at least 10000" in out.stdout


def test_check_counts_a_term_under_two_categories_once_towards_the_library(tmp_path: Path) -> None:
    # Review: the same 5,000 terms under two risks read as a library of 10,000, and no warning.
    terms = "".join(f"term{i}\n" for i in range(5000))
    (tmp_path / "a.txt").write_text(terms, encoding="utf-8")
    (tmp_path / "b.txt").write_text(terms, encoding="utf-8")
    out = check_keywords(
        tmp_path, "  w: {type: keywords, files: [{path: a.txt, category: A.1.a}, {path: b.txt, category: A.1.b}]}\n",
        ["w"])
    assert "lexicon terms: 5000 distinct, 5000 of them in the standard's risks (10000 by category" in out.stdout
    assert "keyword library: 5000 distinct terms in all, the standard asks for at least 10000" in out.stdout


def test_check_warns_of_a_missing_hash_salt_without_failing(tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text("name: p\nversion: '1'\ndetectors: {pii: {type: pii}}\n"
                      "prompt: [{id: hash-pii, detector: pii, action: redact, style: hash}]\n", encoding="utf-8")
    out = subprocess.run([*CLI, "check", str(policy)], capture_output=True, text=True, timeout=120,
                         env={k: v for k, v in os.environ.items() if k != "GUARDRAIL_HASH_SALT"})
    assert out.returncode == 0, out.stderr
    assert "warning: rule 'hash-pii' redacts with style 'hash', but $GUARDRAIL_HASH_SALT is unset" in out.stdout


def test_check_names_the_problem(tmp_path: Path) -> None:
    bad = tmp_path / "p.yaml"
    bad.write_text("name: p\nversion: '1'\ndetectors: {}\nprompt: [{id: r, detector: ghost, action: block}]\n")
    out = run("check", str(bad))
    assert out.returncode == 2
    assert str(bad) in out.stderr and "ghost" in out.stderr and "Traceback" not in out.stderr


def test_scan_jsonl_reads_past_a_byte_order_mark() -> None:
    # Review: Windows PowerShell 5 writes one before the first line, which read as "not JSON".
    out = run("scan", "--jsonl", stdin='\ufeff{"text": "call 13812345678"}\n')
    assert out.returncode == 0, out.stderr
    assert orjson.loads(out.stdout)["text"] == "call <CN_MOBILE>"


def test_scan_jsonl_gives_one_decision_per_line() -> None:
    lines = [{"text": "call 13812345678"}, {"text": "nothing here"}, {"text": "网络赌博"}]
    out = run("scan", "--jsonl", "--direction", "prompt", stdin="".join(orjson.dumps(x).decode() + "\n" for x in lines))
    assert out.returncode == 0, out.stderr
    decisions = [orjson.loads(line) for line in out.stdout.splitlines()]
    assert [d["action"] for d in decisions] == ["redact", "allow", "block"]
    assert decisions[0]["text"] == "call <CN_MOBILE>"
    finding = decisions[0]["findings"][0]
    assert finding["kind"] == "CN_MOBILE" and finding["category"] == "pii" and finding["rule"] == "redact-pii"
    assert (finding["start"], finding["end"]) == (5, 16) and 0 < finding["score"] <= 1
    assert decisions[2]["findings"][0]["category"] == "A.1.h"


def test_scan_plain_text_from_a_file(tmp_path: Path) -> None:
    text = tmp_path / "in.txt"
    text.write_text("护照号 E12345678，邮箱 a@b.cn", encoding="utf-8")
    out = run("scan", str(text))
    assert out.returncode == 0, out.stderr
    assert "action: redact" in out.stdout and "<EMAIL_ADDRESS>" in out.stdout and "a@b.cn" not in out.stdout


@pytest.mark.parametrize(
    "bad", ["not json", '{"no_text": 1}', '{"text": 5}', '{"text": null}', '{"text": {"a": "13812345678"}}', '["x"]']
)
def test_a_bad_jsonl_line_is_named_and_the_others_are_still_scanned(bad: str) -> None:
    out = run("scan", "--jsonl", stdin=f'{{"text": "call 13812345678"}}\n{bad}\n{{"text": "网络赌博"}}\n')
    assert out.returncode == 1
    assert "input line 2: " in out.stderr and "Traceback" not in out.stderr and "failed" not in out.stderr
    first, error, last = (orjson.loads(line) for line in out.stdout.splitlines())  # one output line per input line
    assert first["text"] == "call <CN_MOBILE>" and last["action"] == "block"
    assert error == {"error": out.stderr.strip().removeprefix("error: ")}
    assert "13812345678" not in out.stdout + out.stderr


def test_a_blocked_jsonl_line_shows_the_refusal_not_the_text() -> None:
    out = run("scan", "--jsonl", stdin='{"text": "网络赌博"}\n')
    decision = orjson.loads(out.stdout)
    assert decision["action"] == "block" and "赌博" not in decision["text"] and "Sorry" in decision["text"]


def test_invalid_utf8_input_is_named(tmp_path: Path) -> None:
    jsonl = subprocess.run([*CLI, "scan", "--jsonl"], input=b'{"text": "ok"}\n{"text": "\xff"}\n',
                           capture_output=True, timeout=120)
    assert jsonl.returncode == 1 and b"input line 2: invalid UTF-8" in jsonl.stderr
    plain = tmp_path / "in.txt"
    plain.write_bytes(b"line one\nline \xfe two\n")
    out = run("scan", str(plain))
    assert out.returncode == 2 and f"{plain}: line 2: invalid UTF-8 (byte 0xfe)" in out.stderr


@pytest.mark.parametrize(
    ("command", "first"),
    [("check policies/packs/default.yaml", "policy default"),
     ("scan --jsonl", '{"action":"redact"')],
)
def test_a_closed_pipe_is_not_an_error(command: str, first: str) -> None:
    lines = "".join('{"text": "call 13812345678"}\n' for _ in range(20_000))  # more than a pipe holds
    shell = f"{sys.executable} -m proxy.cli {command} | head -1; echo \"status ${{PIPESTATUS[0]}}\""
    out = subprocess.run(["bash", "-c", shell], input=lines, capture_output=True, text=True, timeout=300)
    assert out.stdout.startswith(first) and out.stdout.endswith("status 0\n"), out.stdout[-200:]
    assert "Traceback" not in out.stderr and "error" not in out.stderr.lower(), out.stderr
