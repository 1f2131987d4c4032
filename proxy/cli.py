"""The `guardrail-proxy` command: serve, check, scan."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import orjson

from policies.findings import Direction  # light: the heavy imports wait for the command that needs them

log = logging.getLogger("guardrail_proxy")

#: Set by a SIGHUP that arrives before the event loop takes the signal over (`_hold_sighup`).
EARLY_SIGHUP = threading.Event()


def _hold_sighup() -> None:
    """Remember a SIGHUP that arrives while the proxy starts, rather than die of it (SIGHUP's
    default action): loading Presidio and the policy takes seconds, and a config reloader may
    signal right after a deploy. The event loop reloads for it once it serves. A worker starts
    with SIGHUP blocked (`workers.Supervisor`), so one sent before this runs waits for it."""
    signal.signal(signal.SIGHUP, lambda signum, frame: EARLY_SIGHUP.set())
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGHUP})

if TYPE_CHECKING:
    from proxy.state import Settings


def _serve_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="run the proxy in front of an OpenAI-compatible model API")
    p.add_argument("--config", type=Path, default=None, help="policy YAML (default: the shipped default pack)")
    p.add_argument("--upstream", default=os.environ.get("GUARDRAIL_UPSTREAM"),
                   help="base URL of the model API, e.g. http://127.0.0.1:8000/v1 (env GUARDRAIL_UPSTREAM)")
    p.add_argument("--demo", action="store_true", help="serve in front of the built-in demo model")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--connect-timeout", type=float, default=5.0, help="seconds to connect upstream")
    p.add_argument("--read-timeout", type=float, default=300.0, help="seconds between upstream bytes")
    p.add_argument("--max-body-bytes", type=int, default=16 * 1024 * 1024, help="larger requests get 413")
    p.add_argument("--guard-timeout", type=float, default=10.0,
                   help="seconds the guard may spend on one large request or answer before it is refused (503)")
    p.add_argument("--reload-interval", type=float, default=1.0,
                   help="seconds between checks of the policy files for changes (0: only SIGHUP)")
    p.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)) or 1,
                   help="worker processes sharing the port (default: one per core this process may use)")
    p.add_argument("--shutdown-timeout", type=float, default=30.0,
                   help="on SIGTERM, seconds in-flight requests and streams may take to finish")
    p.add_argument("--drain-seconds", type=float, default=0.0,
                   help="on SIGTERM, seconds to keep serving with /readyz at 503 before closing the listener")
    p.add_argument("--audit-path", type=Path, default=os.environ.get("GUARDRAIL_AUDIT_PATH") or None,
                   help="JSON Lines audit trail (env GUARDRAIL_AUDIT_PATH); salt from env GUARDRAIL_AUDIT_SALT")
    p.add_argument("--audit-max-bytes", type=int, default=100 * 1024 * 1024, help="rotate the audit file at this size")
    p.add_argument("--audit-retention-days", type=int, default=180, help="delete rotated audit files older than this")
    p.add_argument("--audit-on-error", choices=["block", "allow"], default="block",
                   help="when an audit record cannot be written: refuse the request (block) or count and go on")
    p.add_argument("--client-keys", type=Path, default=os.environ.get("GUARDRAIL_CLIENT_KEYS_FILE") or None,
                   help="YAML of tenants and SHA-256 digests of their API keys (env GUARDRAIL_CLIENT_KEYS_FILE); "
                        "when given, every /v1 request needs a listed key")
    p.add_argument("--log-level", default="INFO")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="guardrail-proxy", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    _serve_parser(sub)
    check = sub.add_parser("check", help="validate a policy file and summarise it")
    check.add_argument("file", type=Path, nargs="?", default=None)
    scan = sub.add_parser("scan", help="guard text from a file or stdin and print the decision")
    scan.add_argument("--config", type=Path, default=None)
    scan.add_argument("--direction", choices=[d.value for d in Direction], default="prompt")
    scan.add_argument("--jsonl", action="store_true", help="each input line is a JSON object with a 'text' field")
    scan.add_argument("file", nargs="?", default="-")
    sub.add_parser("hash-key", help="print the SHA-256 digest of an API key read from standard input")
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    from proxy.audit import AuditConfig
    from proxy.auth import ClientKeys
    from proxy.state import Settings
    from proxy.upstream import UpstreamConfig

    upstream = UpstreamConfig(
        base_url=args.upstream or "http://127.0.0.1:1/v1",
        api_key=os.environ.get("GUARDRAIL_UPSTREAM_API_KEY") or None,
        connect_timeout=args.connect_timeout,
        read_timeout=args.read_timeout,
    )
    audit = AuditConfig(
        path=args.audit_path,
        salt=os.environ.get("GUARDRAIL_AUDIT_SALT", "").encode("utf-8"),
        max_bytes=args.audit_max_bytes,
        retention_days=args.audit_retention_days,
        on_error=args.audit_on_error,
    )
    keys = ClientKeys.load(args.client_keys) if args.client_keys else None
    return Settings(upstream=upstream, policy_path=args.config, demo=args.demo, max_body_bytes=args.max_body_bytes,
                    reload_poll_seconds=args.reload_interval, audit=audit, client_keys=keys,
                    guard_timeout_seconds=args.guard_timeout)


def serve(args: argparse.Namespace, argv: Sequence[str]) -> int:
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("presidio-analyzer").setLevel(logging.WARNING)
    if not args.demo and not args.upstream:
        print("error: give --upstream URL (or set GUARDRAIL_UPSTREAM), or --demo", file=sys.stderr)
        return 2
    if args.workers > 1 and not args.worker:
        from proxy.workers import Supervisor

        where = "the built-in demo model" if args.demo else args.upstream
        print(f"guardrail-proxy on http://{args.host}:{args.port}/v1 in front of {where}, "
              f"{args.workers} workers", flush=True)
        return Supervisor([*argv, "--worker"], args.workers).run()
    return _serve_one(args)


def _serve_one(args: argparse.Namespace) -> int:
    """One proxy process: build the app (a bad policy or audit path fails here), then run it."""
    from aiohttp import web

    from policies.config import PolicyError
    from proxy.app import create_app, install_signal_handlers
    from proxy.audit import AuditError
    from proxy.auth import ClientKeysError

    try:
        app = create_app(_settings(args))
    except (PolicyError, AuditError, ClientKeysError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    install_signal_handlers(app, drain_seconds=args.drain_seconds, early_sighup=EARLY_SIGHUP)
    # Presidio, spaCy and the fold tables leave ~100k long-lived objects; frozen, the collector
    # stops re-scanning them on every full collection (tens of ms of pause under load).
    gc.collect()
    gc.freeze()
    if not args.worker:
        where = "the built-in demo model" if args.demo else args.upstream
        print(f"guardrail-proxy on http://{args.host}:{args.port}/v1 in front of {where}", flush=True)
    web.run_app(app, host=args.host, port=args.port, print=None, access_log=None,
                shutdown_timeout=args.shutdown_timeout, reuse_port=args.worker or None,
                handler_cancellation=True)  # a client that leaves cancels its upstream request at once
    return 0


def check(args: argparse.Namespace) -> int:
    from policies.config import PolicyError
    from policies.loader import load_policy, missing_salt
    from policies.taxonomy import coverage_warnings, in_library

    try:
        policy = load_policy(args.file, require_salt=False)  # checked where production secrets are not
    except PolicyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"policy {policy.name} version {policy.version}: OK")
    problem = missing_salt(policy.spec, policy.salt)
    if problem:
        print(f"  warning: {problem}; the proxy will not load this policy without it")
    keys: dict[str, set[str]] = {}  # category -> its distinct terms, over every keyword detector
    for name, detector in policy.detectors.items():
        print(f"  detector {name}: {type(detector).__name__}, longest match {detector.max_match_chars} chars")
        for category, terms in getattr(detector, "keys_by_category", dict)().items():
            keys.setdefault(category, set()).update(terms)
    counts = {category: len(terms) for category, terms in keys.items()}
    for direction in Direction:
        for stage in policy.stages(direction):
            for rule in stage.rules:
                print(f"  {direction} rule {rule.spec.id}: {stage.name} -> {rule.spec.action}")
        print(f"  {direction} stream hold-back: at most {policy.hold_back_chars(direction)} chars")
    library = set().union(*(terms for category, terms in keys.items() if in_library(category)))
    distinct = len(set().union(*keys.values()))
    print(f"  lexicon terms: {distinct} distinct, {len(library)} of them in the standard's risks"
          + (f" ({sum(counts.values())} by category: a term under two categories counts under each)"
             if sum(counts.values()) != distinct else ""))
    for category in sorted(counts):
        print(f"    {category}: {counts[category]}")
    for warning in coverage_warnings(counts, len(library)):
        print(f"  warning: {warning}")
    return 0


class _BadLine(ValueError):
    """An input line of `scan --jsonl` that holds no text to scan."""


def _jsonl_texts(source: BinaryIO) -> Iterator[tuple[int, str | _BadLine]]:
    """(line number, text or why the line has none) for each non-blank input line, as it comes."""
    for number, line in enumerate(source, 1):
        if number == 1:
            line = line.removeprefix(b"\xef\xbb\xbf")  # a byte-order mark (Windows PowerShell 5 writes one)
        if not line.strip():
            continue
        try:
            item = orjson.loads(line)
        except orjson.JSONDecodeError:
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                yield number, _BadLine(f"input line {number}: invalid UTF-8; the input must be UTF-8 JSON lines")
                continue
            yield number, _BadLine(f"input line {number}: not JSON; expected a JSON object with a 'text' string")
            continue
        text = item.get("text") if isinstance(item, dict) else None
        if not isinstance(text, str):
            yield number, _BadLine(f"input line {number}: expected a JSON object with a 'text' string")
            continue
        yield number, text


def _whole_text(source: BinaryIO, name: str) -> str:
    data = source.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        message = f"{name}: line {line}: invalid UTF-8 (byte 0x{data[error.start]:02x}); the input must be UTF-8"
        raise _BadLine(message) from None


_FINDING_FIELDS = ("kind", "category", "rule", "start", "end")


def scan(args: argparse.Namespace) -> int:
    """Guard each text and print its decision. With `--jsonl` input is read and answered a line
    at a time, one output line per input line; a line without a text gets an `error` line
    (and a message on stderr), the rest are still scanned, and the exit status is 1."""
    from policies.config import PolicyError
    from policies.loader import load_policy
    from proxy.audit import describe

    name = "standard input" if args.file == "-" else args.file
    try:
        policy = load_policy(args.config)
        source: BinaryIO = sys.stdin.buffer if args.file == "-" else open(args.file, "rb")  # noqa: SIM115
    except (PolicyError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    direction = Direction(args.direction)
    status = 0
    with source:
        try:
            texts = _jsonl_texts(source) if args.jsonl else iter([(1, _whole_text(source, name))])
            for _, text in texts:
                if isinstance(text, _BadLine):
                    print(f"error: {text}", file=sys.stderr)
                    sys.stdout.write(orjson.dumps({"error": str(text)}).decode() + "\n")
                    status = 1
                    continue
                decision = policy.evaluate(text, direction)
                shown = policy.refusal_message if decision.blocked else decision.text
                findings = [
                    {key: value for key, value in describe(hit).items() if key in _FINDING_FIELDS}
                    | {"score": round(hit.finding.score, 3)}
                    for hit in decision.hits
                ]
                if args.jsonl:
                    sys.stdout.write(orjson.dumps({"action": str(decision.action), "text": shown, "findings": findings})
                                     .decode() + "\n")
                    sys.stdout.flush()
                else:
                    print(f"action: {decision.action}")
                    for finding in findings:
                        print(f"  {finding['rule']}: {finding['kind']} ({finding['category']}) at "
                              f"{finding['start']}-{finding['end']} score {finding['score']}")
                    print(shown)
        except _BadLine as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except BrokenPipeError:
            raise  # the reader of our output left (`| head`): see `main`
        except OSError as exc:
            print(f"error: {name}: {exc.strerror or exc}", file=sys.stderr)
            return 2
    return status


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        _hold_sighup()
        return serve(args, argv)
    try:
        return {"check": check, "scan": scan, "hash-key": hash_key}[args.command](args)
    except BrokenPipeError:  # `check ... | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 0


def hash_key(args: argparse.Namespace) -> int:
    from proxy.auth import key_digest

    key = sys.stdin.readline().strip()
    if not key:
        print("error: give the key on standard input", file=sys.stderr)
        return 2
    print(key_digest(key))
    return 0


if __name__ == "__main__":
    sys.exit(main())
