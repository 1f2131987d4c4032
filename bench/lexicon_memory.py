"""Keyword lexicon at scale: load + build time and memory of 1,000,000 terms, scan cost vs size.

Target (issue): 1,000,000 lexicon terms load and build in under 10 s and under 500 MB RSS, and
the time to scan a text does not grow with the size of the lexicon.

The lexicon is generated from a fixed seed into a temporary directory: `term<TAB>category`
lines, 70% Chinese terms of 2-6 characters from the common CJK block (U+4E00-U+9FA5) and 30%
Latin terms of 4-12 letters, categories in rotation over A.1.a-A.5.b. Every line is a
distinct folded key, so the detector must report exactly as many terms as there are lines.

Each measurement runs in a fresh child process, so its RSS holds nothing but the interpreter,
the engine and that one policy. The child imports the engine and builds the fold tables first
(every policy load pays for those, whatever its size), then times `load_policy` on a policy
file with one `keywords` detector over the lexicon: the real loader path (YAML, pydantic,
`_build_keywords`, lexicon reader, automaton). It reports:

* load + build seconds, the number of terms the detector reports;
* peak RSS (`VmHWM`) and RSS after the build (`VmRSS`), whole process, and the RSS of the
  process before the load (interpreter + engine + fold tables) for reference;
* RSS after a `malloc_trim(0)` in the child: how much freed heap glibc still held;
* `KeywordDetector.detect` on 1 KB Chinese, English and mixed texts: the median of many
  calls (each text scanned many times, texts interleaved). The texts never contain a
  lexicon term (the Chinese terms avoid the texts' characters, every Latin term has a "z",
  which no text has), so every size does the same work except the automaton walk; a term
  planted in a text is checked to be found, so the lexicon is really there.

    python bench/lexicon_memory.py            # 10k and 1M terms, 3 builds each, ~1.5 minutes
    python bench/lexicon_memory.py --quick    # 10k and 100k terms, 1 build each, ~15 seconds
"""

from __future__ import annotations

import os
import sys

# bench/ goes last on the import path, so no script here can shadow a standard module:
# search bench/ last (it still finds `_common`).
if os.path.abspath(sys.path[0] or os.curdir) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.append(sys.path.pop(0))

import argparse
import json
import random
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from _common import EN_WORDS, PYTHON, REPO, ZH_WORDS, fmt, markdown_table, median, print_header, verdict

DETECTOR = "lexicon"
TEXT_KINDS = ("Chinese", "English", "mixed")
TEXT_BYTES = 1024
TEXTS_PER_KIND = 20
SEED = 20261127
CJK_BLOCK = (0x4E00, 0x9FA5)
TARGET_SECONDS, TARGET_MB = 10.0, 500.0
TARGET_RATIO = 1.25  # detect time, largest lexicon / smallest: what "does not grow" is taken to mean


# --------------------------------------------------------------------------- data


def make_texts(kind: str, count: int = TEXTS_PER_KIND, seed: int = SEED) -> list[str]:
    """`count` texts of about `TEXT_BYTES` UTF-8 bytes: Chinese or English sentences, or both."""
    rng = random.Random(f"{seed}-{kind}")
    texts = []
    for _ in range(count):
        parts: list[str] = []
        size = 0
        while size < TEXT_BYTES:
            chinese = kind == "Chinese" or (kind == "mixed" and rng.random() < 0.5)
            if chinese:
                sentence = "".join(rng.choice(ZH_WORDS) for _ in range(rng.randint(4, 10))) + "。"
            else:
                sentence = " ".join(rng.choice(EN_WORDS) for _ in range(rng.randint(5, 12))).capitalize() + ". "
            parts.append(sentence)
            size += len(sentence.encode("utf-8"))
        texts.append("".join(parts).encode("utf-8")[:TEXT_BYTES].decode("utf-8", "ignore"))
    return texts


def write_lexicon(path: Path, terms: int, seed: int = SEED) -> str:
    """`terms` lines with distinct folded keys, none of which occurs in any `make_texts` text;
    returns the last term, to plant in a text."""
    from policies.normalize import fold
    from policies.taxonomy import CATEGORIES

    text_chars = set("".join(ZH_WORDS) + "".join(EN_WORDS))
    if "z" in text_chars:
        raise AssertionError("the texts contain 'z'; Latin lexicon terms could match them")
    # Characters that fold to themselves, so distinct terms are distinct keys.
    han = [c for c in map(chr, range(CJK_BLOCK[0], CJK_BLOCK[1] + 1)) if fold(c) == c and c not in text_chars]
    latin = "abcdefghijklmnopqrstuvwxyz"
    categories = [c for c in CATEGORIES if c.startswith("A.")]
    rng = random.Random(f"lexicon-{seed}")
    seen: set[str] = set()
    with path.open("w", encoding="utf-8") as out:
        while len(seen) < terms:
            if rng.random() < 0.7:
                term = "".join(rng.choices(han, k=rng.randint(2, 6)))
            else:
                letters = rng.choices(latin, k=rng.randint(4, 12))
                letters[rng.randrange(len(letters))] = "z"
                term = "".join(letters)
            if term not in seen:
                seen.add(term)
                out.write(f"{term}\t{categories[len(seen) % len(categories)]}\n")
    return term


def write_policy(path: Path, lexicon: Path) -> None:
    import yaml

    spec = {
        "name": f"bench-{lexicon.stem}",
        "version": "1",
        "detectors": {DETECTOR: {"type": "keywords", "files": [{"path": str(lexicon)}]}},
        "prompt": [{"id": "block-lexicon", "detector": DETECTOR, "action": "block"}],
    }
    path.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), encoding="utf-8")


# --------------------------------------------------------------------------- child


def _status_mb(key: str) -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    raise KeyError(key)


@dataclass
class Measurement:
    """What one child process measured (sent to the parent as JSON)."""

    seconds: float
    terms: int
    rss_before: float
    peak: float
    rss_after: float
    rss_trimmed: float
    duplicate_warnings: int
    planted_found: bool
    findings: dict[str, int]  # per text kind, over all its texts (must be 0)
    detect: dict[str, list[float]]  # per text kind: seconds of each `detect` call


def child(policy_path: Path, planted: str, runs: int) -> Measurement:
    """One measurement, in this (fresh) process: build, memory, then scans."""
    import ctypes
    import gc
    import logging

    from policies.loader import load_policy
    from policies.normalize import fold

    warnings = _count_records("policies.lexicon")
    fold("warm")  # the fold tables: built once per process, whatever the policy
    gc.collect()
    rss_before = _status_mb("VmRSS")
    started = time.perf_counter()
    policy = load_policy(policy_path)
    seconds = time.perf_counter() - started
    peak, rss_after = _status_mb("VmHWM"), _status_mb("VmRSS")
    ctypes.CDLL(None).malloc_trim(0)  # glibc: give freed heap pages back; what is left is in use
    rss_trimmed = _status_mb("VmRSS")
    detector = policy.detectors[DETECTOR]
    logging.getLogger("policies").setLevel(logging.ERROR)
    findings: dict[str, int] = {}
    detect: dict[str, list[float]] = {}
    for kind in TEXT_KINDS:
        texts = make_texts(kind)
        findings[kind] = sum(len(detector.detect(text)) for text in texts)  # also the warm-up
        samples = detect[kind] = []
        for _ in range(runs):
            for text in texts:
                began = time.perf_counter()
                detector.detect(text)
                samples.append(time.perf_counter() - began)
    return Measurement(
        seconds=seconds,
        terms=int(getattr(detector, "term_count", 0)),
        rss_before=rss_before,
        peak=peak,
        rss_after=rss_after,
        rss_trimmed=rss_trimmed,
        duplicate_warnings=warnings.count,
        planted_found=bool(detector.detect(f"我们今天讨论{planted}的问题。")),
        findings=findings,
        detect=detect,
    )


class _Counter:
    count = 0


def _count_records(logger_name: str) -> _Counter:
    """Count (and keep off stderr) what `logger_name` logs: duplicate-term warnings."""
    import logging

    counter = _Counter()

    class Handler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            counter.count += 1

    logger = logging.getLogger(logger_name)
    logger.addHandler(Handler())
    logger.propagate = False
    return counter


def run_child(policy: Path, planted: str, runs: int) -> Measurement:
    argv = [PYTHON, os.path.abspath(__file__), "--child", str(policy), "--planted", planted, "--runs", str(runs)]
    done = subprocess.run(argv, cwd=REPO, check=True, capture_output=True, text=True)
    return Measurement(**json.loads(done.stdout.strip().splitlines()[-1]))


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100k terms instead of 1M, one build, fewer scans")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--planted", default="", help=argparse.SUPPRESS)
    parser.add_argument("--runs", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asdict(child(args.child, args.planted, args.runs))))
        return

    big = 100_000 if args.quick else 1_000_000
    sizes = (10_000, big)
    builds = 1 if args.quick else 3
    runs = 20 if args.quick else 100
    print_header(f"Keyword lexicon: {big:,} terms, load + build, memory, scan cost vs size")
    started = time.perf_counter()
    measured: dict[int, list[Measurement]] = {}
    with tempfile.TemporaryDirectory(prefix="lexicon-memory-") as tmp:
        for terms in sizes:
            lexicon = Path(tmp) / f"lexicon-{terms}.txt"
            planted = write_lexicon(lexicon, terms)
            policy = Path(tmp) / f"policy-{terms}.yaml"
            write_policy(policy, lexicon)
            measured[terms] = [run_child(policy, planted, runs) for _ in range(builds)]
    print(
        f"Lexicons generated and measured in {time.perf_counter() - started:.0f} s, "
        f"{builds} fresh process(es) per size.\n"
    )
    report(measured, sizes)


def report(measured: dict[int, list[Measurement]], sizes: tuple[int, int]) -> None:
    small, big = sizes
    print("## Load + build through `load_policy` (one keywords detector), per fresh process\n")
    rows = []
    for terms in sizes:
        results = measured[terms]
        seconds = [r.seconds for r in results]
        rows.append(
            [
                f"{terms:,}",
                f"{results[0].terms:,}",
                f"{fmt(median(seconds))} ({fmt(min(seconds))}-{fmt(max(seconds))})",
                fmt(median([r.rss_before for r in results]), 0),
                fmt(max(r.peak for r in results), 0),
                fmt(median([r.rss_after for r in results]), 0),
                fmt(median([r.rss_trimmed for r in results]), 0),
                str(results[0].duplicate_warnings),
                "yes" if all(r.planted_found for r in results) else "NO",
            ]
        )
    headers = ["lines", "terms reported", "load + build s, median (range)", "RSS before load MB"]
    headers += ["peak RSS (VmHWM) MB", "RSS after build MB", "RSS after malloc_trim MB"]
    headers += ["duplicate warnings", "planted term found"]
    print(markdown_table(headers, rows))
    print(
        "\nWhole-process figures; 'RSS before load' is the interpreter, the engine and its fold tables. "
        "Peak RSS is the worst of the processes, the others are medians.\n"
    )

    print(f"## `KeywordDetector.detect` on {TEXT_BYTES}-byte texts, {small:,} vs {big:,} terms\n")
    rows = []
    ratios = []
    for kind in TEXT_KINDS:
        small_us, big_us = (median([s for r in measured[t] for s in r.detect[kind]]) * 1e6 for t in sizes)
        ratios.append(big_us / small_us)
        calls = sum(len(r.detect[kind]) for r in measured[big])
        findings = sum(r.findings[kind] for t in sizes for r in measured[t])
        rows.append([kind, fmt(small_us, 1), fmt(big_us, 1), fmt(ratios[-1], 2), f"{calls:,}", str(findings)])
    headers = ["text", f"{small:,} terms µs (median)", f"{big:,} terms µs (median)", "ratio"]
    print(markdown_table([*headers, "calls per size", "findings (must be 0)"], rows))

    build_seconds = median([r.seconds for r in measured[big]])
    peak = max(r.peak for r in measured[big])
    print(f"\n## Against the target ({big:,} terms)\n")
    rows = [
        [
            "load + build",
            f"< {TARGET_SECONDS:.0f} s",
            f"{build_seconds:.2f} s",
            verdict(build_seconds < TARGET_SECONDS),
        ],
        ["peak RSS", f"< {TARGET_MB:.0f} MB", f"{peak:.0f} MB", verdict(peak < TARGET_MB)],
        [
            "scan time vs lexicon size",
            f"ratio ≤ {TARGET_RATIO}",
            " / ".join(f"{r:.2f}" for r in ratios),
            verdict(max(ratios) <= TARGET_RATIO),
        ],
    ]
    print(markdown_table(["target", "goal", "measured", "verdict"], rows))
    if big != 1_000_000:
        print("\n(--quick: the targets are for 1,000,000 terms; run without --quick to check them.)")


if __name__ == "__main__":
    main()
