"""Shared helpers for the benchmarks: data, policies, processes, statistics, tables.

Everything here is deterministic given a seed, and every process it starts listens on
127.0.0.1 only. Nothing in this module is timed itself.
"""

from __future__ import annotations

import contextlib
import functools
import os
import random
import shlex
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
PYTHON = sys.executable
CLK_TCK = os.sysconf("SC_CLK_TCK")

# --------------------------------------------------------------------------- statistics


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def fmt(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "n/a"
    if value != 0 and abs(value) < 10 ** -digits:
        return f"{value:.{digits}g}"
    return f"{value:,.{digits}f}"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"

    sep = "| " + " | ".join("-" * w for w in widths) + " |"
    return "\n".join([line(cells[0]), sep, *(line(r) for r in cells[1:])])


def print_header(title: str) -> None:
    """Print the title and the exact command line that produced the output."""
    command = " ".join(shlex.quote(a) for a in [os.path.relpath(PYTHON, REPO), *sys.argv])
    print(f"# {title}\n")
    print(f"Command (from the repository root): `{command}`\n")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"Machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, {time.strftime('%Y-%m-%d %H:%M')}, "
          f"load average at start {load} (other work on the machine shows up as noise, mostly in p99)\n")


def profile_table(run: Callable[[], object], top: int = 12, sort: str = "own", skip: Sequence[str] = ()) -> str:
    """cProfile `run()`; the `top` functions by own (or cumulative) time, with both shares."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.runcall(run)
    return stats_table(pstats.Stats(profiler), top, sort, skip)


def stats_table(stats: Any, top: int = 12, sort: str = "own", skip: Sequence[str] = ()) -> str:
    """A Markdown table of a `pstats.Stats`: share of all profiled time, own and with callees."""
    total = sum(row[2] for row in stats.stats.values())
    rows = []
    for (path, line, func), (_, calls, own, cum, _) in stats.stats.items():
        if any(s in path or s in func for s in skip):
            continue
        where = f"{os.path.relpath(path, REPO) if path.startswith('/') else path}:{line}"
        where = where.replace(".venv/lib/python3.11/site-packages/", "")
        rows.append((own, cum, [f"`{where}:{func}`", f"{calls:,}", f"{own / total:.1%}", f"{cum / total:.1%}"]))
    rows.sort(key=lambda r: r[0] if sort == "own" else r[1], reverse=True)
    return markdown_table(["function", "calls", "own time", "incl. callees"], [r[2] for r in rows[:top]])


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


# --------------------------------------------------------------------------- /proc


def _stat_fields(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        data = f.read()
    return data[data.rindex(")") + 2 :].split()  # fields from 3 (state) on


def tree_pids(pid: int) -> list[int]:
    """`pid` and all its descendants (nginx workers, for instance)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                children.setdefault(int(_stat_fields(int(entry))[1]), []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo.extend(children.get(current, ()))
    return out


def cpu_seconds(pids: Sequence[int]) -> float:
    """utime + stime of the processes, in seconds (resolution 1/CLK_TCK)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = _stat_fields(pid)
            total += int(fields[11]) + int(fields[12])  # utime, stime (stat fields 14, 15)
    return total / CLK_TCK


def status_kb(pid: int | str, key: str) -> int:
    """A `kB` value from /proc/<pid>/status, e.g. VmRSS or VmHWM."""
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def rss_mb(pids: Sequence[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            total += status_kb(pid, "VmRSS")
    return total / 1024


def self_rss_mb() -> float:
    return status_kb("self", "VmRSS") / 1024


# --------------------------------------------------------------------------- processes


def make_workdir(prefix: str) -> Path:
    """A temporary directory for lexicons, policies, logs; removed when the script exits."""
    import atexit
    import shutil
    import tempfile

    path = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, path, True)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes] | None = None, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process {proc.args!r} exited with {proc.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout} s")


@dataclass
class Server:
    """A server process started by a benchmark: its name, port and process."""

    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def pids(self) -> list[int]:
        return tree_pids(self.proc.pid)

    def cpu(self) -> float:
        return cpu_seconds(self.pids)

    def rss(self) -> float:
        return rss_mb(self.pids)


@dataclass
class Servers:
    """Starts servers and stops exactly those (by pid) on exit."""

    workdir: Path
    started: list[Server] = field(default_factory=list)

    def start(self, name: str, argv: Sequence[str], port: int, env: dict[str, str] | None = None,
              timeout: float = 90.0) -> Server:
        log = self.workdir / f"{name}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(list(argv), stdout=out, stderr=subprocess.STDOUT, cwd=REPO,
                                    env={**os.environ, **(env or {})}, start_new_session=True)
        server = Server(name, port, proc, log)
        self.started.append(server)
        try:
            wait_for_port(port, proc, timeout)
        except Exception:
            sys.stderr.write(log.read_text(errors="replace")[-3000:])
            raise
        return server

    def stop(self, server: Server) -> None:
        if server.proc.poll() is None:
            server.proc.terminate()
            try:
                server.proc.wait(10)
            except subprocess.TimeoutExpired:
                server.proc.kill()
                server.proc.wait(5)
        if server in self.started:
            self.started.remove(server)

    def stop_all(self) -> None:
        for server in reversed(list(self.started)):
            self.stop(server)


@contextlib.contextmanager
def servers(workdir: Path) -> Iterator[Servers]:
    group = Servers(workdir)
    try:
        yield group
    finally:
        group.stop_all()


def start_mock(group: Servers, impl: str = "raw") -> Server:
    port = free_port()
    return group.start(f"mock-{impl}", [PYTHON, str(BENCH_DIR / "mock_upstream.py"), "--port", str(port),
                                        "--impl", impl], port)


def start_bare_relay(group: Servers, upstream: Server) -> Server:
    port = free_port()
    return group.start("bare-relay", [PYTHON, str(BENCH_DIR / "bare_relay.py"), "--port", str(port),
                                      "--upstream", f"http://127.0.0.1:{upstream.port}"], port)


PROXY = str(Path(PYTHON).parent / "guardrail-proxy")


@functools.cache
def proxy_serve_flags() -> str:
    """`guardrail-proxy serve --help`, to see which options this version of the proxy has."""
    return subprocess.run([PROXY, "serve", "--help"], capture_output=True, text=True, check=True).stdout


def proxy_argv(upstream: Server, port: int, policy: Path, workers: int = 1, extra: Sequence[str] = ()) -> list[str]:
    """The documented command line: `guardrail-proxy serve --upstream ... --port N --config ...`.

    `--workers 1` unless asked otherwise (when the proxy has that option): one process, like
    the bare relay it is compared with; its default is one worker per core.
    """
    argv = [PROXY, "serve", "--upstream", f"http://127.0.0.1:{upstream.port}/v1", "--port", str(port),
            "--config", str(policy), "--log-level", "WARNING", *extra]
    if "--workers" in proxy_serve_flags():
        argv += ["--workers", str(workers)]
    elif workers != 1:
        raise ValueError("this guardrail-proxy has no --workers option")
    return argv


def start_proxy(group: Servers, name: str, upstream: Server, policy: Path, workers: int = 1,
                profile_to: Path | None = None) -> Server:
    port = free_port()
    argv = proxy_argv(upstream, port, policy, workers)
    if profile_to is not None:  # the same command under a cProfile that SIGUSR1 starts and stops
        argv = [PYTHON, str(BENCH_DIR / "_profiled.py"), str(profile_to), *argv[1:]]
    return group.start(name, argv, port)


def run_client(url: str, body: bytes, workdir: Path, requests: int, concurrency: int = 1,
               seconds: float = 60.0, stream: bool = False) -> dict[str, object]:
    """`_client.py` in its own process; its JSON result."""
    import orjson

    body_file = workdir / f"body-{abs(hash(body))}.json"
    body_file.write_bytes(body)
    argv = [PYTHON, str(BENCH_DIR / "_client.py"), url, str(body_file), "--requests", str(requests),
            "--concurrency", str(concurrency), "--seconds", str(seconds)]
    out = subprocess.run([*argv, *(["--stream"] if stream else [])], check=True, capture_output=True, cwd=REPO)
    result: dict[str, object] = orjson.loads(out.stdout)
    return result


# --------------------------------------------------------------------------- texts with PII

ZH_WORDS = (  # noqa: SIM905 - a word list reads best as words
    "我们 今天 明天 项目 会议 讨论 客户 需求 系统 数据 分析 报告 问题 方案 计划 时间 公司 团队 产品 "
    "用户 服务 功能 测试 上线 版本 文档 接口 模型 训练 结果 性能 优化 部署 服务器 网络 安全 管理 流程 "
    "审核 预算 市场 销售 合同 发票 订单 物流 天气 北京 上海 周末 晚上 学习 工作 生活 朋友 老师 学生 "
    "学校 医院 银行 地址 邮件 电话 联系 帮忙 确认 安排 准备 完成 需要 可以 已经 还是 非常 重要 简单 "
    "复杂 一下 一些 这个 那个 如果 因为 所以 但是 然后 关于 通过 进行 提供 支持"
).split()
EN_WORDS = (  # noqa: SIM905 - a word list reads best as words
    "the a we our team project meeting customer request system data analysis report issue "
    "plan schedule company product user service feature test release version document interface model training "
    "result performance deploy server network security process review budget market sales contract invoice order "
    "shipping weather weekend evening study work friend teacher school hospital bank address please confirm "
    "arrange prepare finish need can already still very important simple complex some this that "
    "if because so but then about through provide support next week morning update quickly "
    "shared review draft notes summary latency throughput"
).split()

#: Real 6-digit administrative division codes (GB/T 2260) for resident IDs.
REGION_CODES = ("110105", "310104", "440305", "330106", "510107", "420106", "320102", "370102")
MOBILE_SEGMENTS = ("130", "135", "138", "139", "150", "152", "158", "176", "186", "188", "199")
EMAIL_DOMAINS = ("example.com", "qq.com", "163.com", "gmail.com", "company.cn", "mail.example.org")

#: Planted kind -> entity kinds a detector may report for it and still count as "found".
EQUIVALENT = {
    "EMAIL_ADDRESS": {"EMAIL_ADDRESS"},
    "CN_MOBILE": {"CN_MOBILE", "PHONE_NUMBER"},
    "PHONE_NUMBER": {"PHONE_NUMBER", "CN_LANDLINE", "CN_MOBILE"},
    "CN_RESIDENT_ID": {"CN_RESIDENT_ID"},
    "CN_BANK_CARD": {"CN_BANK_CARD", "CREDIT_CARD"},
    "IP_ADDRESS": {"IP_ADDRESS"},
}
PII_KINDS = tuple(EQUIVALENT)


@dataclass(frozen=True)
class Planted:
    kind: str
    start: int
    end: int


@dataclass(frozen=True)
class Sample:
    text: str
    planted: tuple[Planted, ...]


def _zh_sentence(rng: random.Random) -> str:
    words = [rng.choice(ZH_WORDS) for _ in range(rng.randint(4, 10))]
    cut = rng.randint(1, len(words) - 1)
    return "".join(words[:cut]) + "，" + "".join(words[cut:]) + "。"


def _en_sentence(rng: random.Random) -> str:
    words = [rng.choice(EN_WORDS) for _ in range(rng.randint(6, 14))]
    return " ".join(words).capitalize() + ". "


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


#: Letters of generated e-mail addresses: no "z", which no generated text contains, so lexicon
#: terms with a "z" can never match a benchmark text (see `write_lexicon`).
EMAIL_LETTERS = "abcdefghijklmnopqrstuvwxy"


def make_email(rng: random.Random) -> str:
    user = "".join(rng.choice(EMAIL_LETTERS) for _ in range(rng.randint(3, 8)))
    if rng.random() < 0.5:
        user += rng.choice((".", "_")) + "".join(rng.choice(EMAIL_LETTERS) for _ in range(3))
    if rng.random() < 0.3:
        user += _digits(rng, 2)
    return f"{user}@{rng.choice(EMAIL_DOMAINS)}"


def make_mobile(rng: random.Random) -> str:
    number = rng.choice(MOBILE_SEGMENTS) + _digits(rng, 8)
    style = rng.randrange(3)
    if style == 1:
        return f"+86 {number[:3]} {number[3:7]} {number[7:]}"
    if style == 2:
        return f"{number[:3]}-{number[3:7]}-{number[7:]}"
    return number


def make_resident_id(rng: random.Random) -> str:
    from policies.detectors.cn_checksums import resident_id_check_char

    birth = f"{rng.randint(1950, 2005)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    body = rng.choice(REGION_CODES) + birth + _digits(rng, 3)
    return body + resident_id_check_char(body)


def make_bank_card(rng: random.Random) -> str:
    from policies.detectors.cn_checksums import luhn_check_digit

    length = rng.choice((16, 16, 19))
    body = "62" + rng.choice(("2202", "1700", "2848", "5880")) + _digits(rng, length - 7)
    card = body + luhn_check_digit(body)
    if length == 16 and rng.random() < 0.5:
        return " ".join(card[i : i + 4] for i in range(0, 16, 4))
    return card


def make_phone(rng: random.Random) -> str:
    """A landline or international number that `phonenumbers` itself says is valid."""
    import phonenumbers

    while True:
        style = rng.randrange(4)
        if style == 0:
            text = f"010-{rng.randint(2, 8)}{_digits(rng, 7)}"
            region = "CN"
        elif style == 1:
            text = f"(0755) {rng.randint(2, 8)}{_digits(rng, 3)} {_digits(rng, 4)}"
            region = "CN"
        elif style == 2:
            area = rng.choice(("212", "415", "646", "617", "312"))
            text = f"+1 {area}-{rng.randint(2, 9)}{_digits(rng, 2)}-{_digits(rng, 4)}"
            region = "US"
        else:
            text = f"+44 20 7{_digits(rng, 3)} {_digits(rng, 4)}"
            region = "GB"
        if phonenumbers.is_valid_number(phonenumbers.parse(text, region)):
            return text


def make_ip(rng: random.Random) -> str:
    if rng.random() < 0.8:
        first = rng.choice((23, 45, 58, 101, 114, 172, 183, 203, 211))
        return f"{first}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    groups = ":".join(f"{rng.randrange(0x10000):x}" for _ in range(3))
    return f"2001:db8:{groups}::{rng.randrange(1, 0xFFFF):x}"


MAKERS = {
    "EMAIL_ADDRESS": make_email,
    "CN_MOBILE": make_mobile,
    "PHONE_NUMBER": make_phone,
    "CN_RESIDENT_ID": make_resident_id,
    "CN_BANK_CARD": make_bank_card,
    "IP_ADDRESS": make_ip,
}
# How people write them: Chinese (often with no space around the value) and English.
ZH_TEMPLATES = {
    "EMAIL_ADDRESS": ("我的邮箱是{}，", "请发邮件到 {} 。", "邮箱：{}。"),
    "CN_MOBILE": ("我的手机号是{}，", "请拨打 {} 联系我。", "电话{}。"),
    "PHONE_NUMBER": ("办公室电话 {}，", "请致电{}。", "座机：{}。"),
    "CN_RESIDENT_ID": ("身份证号{}，", "我的身份证号码是 {} 。", "证件号：{}。"),
    "CN_BANK_CARD": ("银行卡号 {}，", "请转账到卡号{}。", "卡号：{}。"),
    "IP_ADDRESS": ("服务器地址是 {}，", "登录IP：{}。", "来自{}的访问。"),
}
EN_TEMPLATES = {
    "EMAIL_ADDRESS": ("Email me at {} today. ", "My address is {}. "),
    "CN_MOBILE": ("Call my mobile {} tonight. ", "My phone is {}. "),
    "PHONE_NUMBER": ("The office phone is {}. ", "Call {} for support. "),
    "CN_RESIDENT_ID": ("My ID number is {}. ", "Resident ID {} was verified. "),
    "CN_BANK_CARD": ("Pay to card {} please. ", "My bank card number is {}. "),
    "IP_ADDRESS": ("The server IP is {} now. ", "Requests came from {} at noon. "),
}


def make_sample(rng: random.Random, size_bytes: int, with_pii: bool, pii_every: int = 3) -> Sample:
    """A mixed Chinese/English text of about `size_bytes` UTF-8 bytes (never more).

    With PII, every `pii_every`-th sentence carries one planted value, kinds in rotation
    starting at a random one; `planted` records each value's span.
    """
    parts: list[str] = []
    planted: list[Planted] = []
    length = size = 0
    kind_index = rng.randrange(len(PII_KINDS))
    sentence = 0
    while True:
        sentence += 1
        if with_pii and sentence % pii_every == 0:
            kind = PII_KINDS[kind_index % len(PII_KINDS)]
            kind_index += 1
            templates = ZH_TEMPLATES if rng.random() < 0.5 else EN_TEMPLATES
            template = rng.choice(templates[kind])
            value = MAKERS[kind](rng)
            piece = template.format(value)
            span = (length + template.index("{}"), length + template.index("{}") + len(value))
        else:
            piece = _zh_sentence(rng) if rng.random() < 0.5 else _en_sentence(rng)
            span = None
        piece_bytes = len(piece.encode("utf-8"))
        if size + piece_bytes > size_bytes:
            break
        parts.append(piece)
        if span is not None:
            planted.append(Planted(kind, *span))
        length += len(piece)
        size += piece_bytes
    # Pad with plain words up to the exact size.
    while size < size_bytes:
        filler = rng.choice(EN_WORDS) + " "
        if size + len(filler) > size_bytes:
            filler = "x" * (size_bytes - size)
        parts.append(filler)
        size += len(filler)
    return Sample("".join(parts), tuple(planted))


def make_samples(seed: int, count: int, size_bytes: int, with_pii: bool) -> list[Sample]:
    rng = random.Random(f"{seed}-{size_bytes}-{with_pii}")
    return [make_sample(rng, size_bytes, with_pii) for _ in range(count)]


# Numbers that are not personal data, as prompts are full of them: dates, ranges of years,
# amounts, order numbers, versions and times. (maker, Chinese templates, English templates).
def _date(rng: random.Random, separator: str) -> str:
    return f"{rng.randint(1990, 2030)}{separator}{rng.randint(1, 12):02d}{separator}{rng.randint(1, 28):02d}"


NOT_PII_NUMBERS: tuple[tuple[Callable[[random.Random], str], tuple[str, ...], tuple[str, ...]], ...] = (
    (lambda rng: _date(rng, rng.choice("-/.")), ("会议定于{}举行，", "截止日期是 {} 。"), ("The meeting is on {}. ",)),
    (lambda rng: f"{rng.randint(1990, 2030)}年{rng.randint(1, 12)}月{rng.randint(1, 28)}日", ("合同于{}签订。",),
     ("Signed on {} in Beijing. ",)),
    (lambda rng: f"{(y := rng.randint(1990, 2025))}-{y + rng.randint(1, 9)}", ("{}年间收入翻倍。",),
     ("Revenue doubled over {}. ",)),
    (lambda rng: f"{rng.randint(1, 99)} {rng.randint(0, 999):03d} {rng.randint(0, 999):03d}", ("金额为 {} 元。",),
     ("The budget is {} yuan. ",)),
    (lambda rng: f"{rng.randint(1, 99)},{rng.randint(0, 999):03d}.{rng.randint(0, 99):02d}", ("报价 ¥{}，",),
     ("It costs ${} in total. ",)),
    (lambda rng: f"{rng.randint(2005, 2030)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
     + "".join(rng.choice("0123456789") for _ in range(rng.randint(0, 6))),
     ("订单号 {} 已发货。",), ("Order number {} has shipped. ",)),
    (lambda rng: f"v{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 30)}", ("版本 {} 已发布。",),
     ("Release {} is out. ",)),
    (lambda rng: f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}", ("耗时到 {} 结束。",),
     ("It ended at {} sharp. ",)),
)


def _pieces_up_to(size_bytes: int, piece: Callable[[int], str]) -> str:
    """`piece(1)`, `piece(2)`, ... joined, as many as fit in `size_bytes` UTF-8 bytes."""
    parts, size, sentence = [], 0, 0
    while True:
        sentence += 1
        text = piece(sentence)
        text_bytes = len(text.encode("utf-8"))
        if size + text_bytes > size_bytes:
            return "".join(parts)
        parts.append(text)
        size += text_bytes


def make_number_samples(seed: int, count: int, size_bytes: int) -> list[str]:
    """Mixed Chinese/English texts like `make_sample`'s without PII, with a number that is
    not personal data in every third sentence."""
    rng = random.Random(f"numbers-{seed}-{size_bytes}")

    def piece(sentence: int) -> str:
        if sentence % 3:
            return _zh_sentence(rng) if rng.random() < 0.5 else _en_sentence(rng)
        maker, zh, en = rng.choice(NOT_PII_NUMBERS)
        return rng.choice(zh if rng.random() < 0.5 else en).format(maker(rng))

    return [_pieces_up_to(size_bytes, piece) for _ in range(count)]


def make_monolingual(seed: int, count: int, size_bytes: int, script: str) -> list[str]:
    """`count` texts of about `size_bytes` UTF-8 bytes in one script only ("en" or "zh"),
    without PII: how the keyword scan's cost depends on the script of the text."""
    rng = random.Random(f"mono-{seed}-{size_bytes}-{script}")
    sentence = _en_sentence if script == "en" else _zh_sentence
    return [_pieces_up_to(size_bytes, lambda _: sentence(rng)) for _ in range(count)]


def text_chars() -> set[str]:
    """Every character the text generator can emit, in sentences, templates and values."""
    templates = "".join(t for table in (ZH_TEMPLATES, EN_TEMPLATES) for group in table.values() for t in group)
    values = EMAIL_LETTERS + "".join(EMAIL_DOMAINS) + "0123456789abcdef+-:.()@_ X"
    return set("".join(ZH_WORDS) + "".join(EN_WORDS) + "，。. x" + templates + values.upper() + values)


# --------------------------------------------------------------------------- lexicons and policies


def lexicon_categories() -> list[str]:
    from policies.taxonomy import CATEGORIES

    return [c for c in CATEGORIES if c.startswith("A.")]


def write_lexicon(path: Path, terms: int, seed: int = 7, never_in_texts: bool = True) -> Path:
    """`terms` distinct lines `term<TAB>category`: 2-6 Chinese characters (60%) or 4-12 Latin
    letters (40%), categories in rotation over A.1.a-A.5.b.

    Chinese terms use characters the text generator never emits (nor any that fold to one).
    With `never_in_texts`, each Latin term also carries a "z", a letter no generated text has,
    so no benchmark text ever hits the lexicon, not even across the gaps between words that
    the fold joins ("our we" reads as "ourwe"): (a), (b), (c) then differ only in the scan.
    Without it, Latin terms are uniformly random and short ones do match across such gaps.
    """
    from policies.normalize import fold

    rng = random.Random(f"lexicon-{seed}-{terms}")
    avoid = text_chars()
    if never_in_texts and "z" in avoid:
        raise AssertionError("the text generator emits 'z'; lexicon terms could match")
    han = [c for c in map(chr, range(0x4E00, 0x9FA6)) if fold(c) == c and c not in avoid]
    latin = "abcdefghijklmnopqrstuvwxyz"
    english = set(EN_WORDS)
    categories = lexicon_categories()
    seen: set[str] = set()
    lines: list[str] = []
    while len(seen) < terms:
        if rng.random() < 0.6:
            term = "".join(rng.choices(han, k=rng.randint(2, 6)))
        else:
            letters = rng.choices(latin, k=rng.randint(4, 12))
            if never_in_texts:
                letters[rng.randrange(len(letters))] = "z"
            term = "".join(letters)
            if term in english:
                continue
        if term in seen:
            continue
        seen.add(term)
        lines.append(f"{term}\t{categories[len(lines) % len(categories)]}\n")
    path.write_text("".join(lines), encoding="utf-8")
    return path


def policy_dict(lexicon: Path | None = None, decision_cache: int = 0) -> dict[str, object]:
    """The shipped default pack, its files as `pack:` paths, plus a blocking lexicon detector.

    Its decision cache is off unless asked for: every text is new to the proxy in these
    benchmarks (and `http_floor`'s load sends one body over and over)."""
    from policies.config import DEFAULT_POLICY

    spec = yaml.safe_load(DEFAULT_POLICY.read_text(encoding="utf-8"))
    spec["decision_cache"] = decision_cache
    for detector in spec["detectors"].values():
        if "files" in detector:
            detector["files"] = [
                {**f, "path": "pack:" + f["path"]} if isinstance(f, dict) else "pack:" + f
                for f in detector["files"]
            ]
    if lexicon is not None:
        detectors = {}
        for name, detector in spec["detectors"].items():  # right after the demo word list
            detectors[name] = detector
            if detector["type"] == "keywords":
                detectors["bench_lexicon"] = {"type": "keywords", "files": [{"path": str(lexicon)}]}
        spec["detectors"] = detectors
        rule = {"id": "block-bench-lexicon", "detector": "bench_lexicon", "action": "block"}
        for direction in ("prompt", "completion"):
            rules = spec[direction]
            at = next(i for i, r in enumerate(rules) if r["detector"] == "demo_words") + 1
            rules.insert(at, dict(rule))
    spec["name"] = "bench-" + ("default" if lexicon is None else lexicon.stem)
    return spec


def write_policy(path: Path, lexicon: Path | None = None, empty: bool = False, decision_cache: int = 0) -> Path:
    spec = ({"name": "bench-empty", "version": "1", "detectors": {}, "prompt": [], "completion": [],
             "decision_cache": decision_cache}
            if empty else policy_dict(lexicon, decision_cache))
    path.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- OpenAI payloads


def chat_request(content: str, stream: bool = False, history: Sequence[str] = ()) -> bytes:
    """A chat completion request whose last user message is `content`, after the `history`
    (user and assistant messages in turn, as a client sends the conversation every turn)."""
    import orjson

    earlier = [{"role": ("user", "assistant")[i % 2], "content": text} for i, text in enumerate(history)]
    body = {"model": "bench-model", "messages": [*earlier, {"role": "user", "content": content}], "stream": stream}
    return orjson.dumps(body)


def answer_chunks(seed: int = 11, chunks: int = 100, with_pii: bool = False) -> list[str]:
    """A deterministic answer split into `chunks` token-sized deltas (2-8 characters)."""
    rng = random.Random(f"answer-{seed}-{with_pii}")
    text = make_sample(rng, 4096, with_pii=with_pii, pii_every=2).text
    out, at = [], 0
    for _ in range(chunks):
        size = rng.randint(2, 8)
        out.append(text[at : at + size])
        at += size
    return out


def write_lexicon_in_child(path: Path, terms: int, never_in_texts: bool = True) -> float:
    """`write_lexicon` in a separate process; returns the seconds it took."""
    started = time.perf_counter()
    subprocess.run([PYTHON, str(BENCH_DIR / "_common.py"), "write-lexicon", str(path), str(terms),
                    *([] if never_in_texts else ["--unconstrained"])], check=True, cwd=REPO)
    return time.perf_counter() - started


if __name__ == "__main__":  # `python bench/_common.py write-lexicon PATH TERMS`: in a child, so
    # the generator's garbage never lands in the heap of a process that measures RSS growth.
    sys.path.append(sys.path.pop(0))  # no script in bench/ may shadow a standard module
    if len(sys.argv) in (4, 5) and sys.argv[1] == "write-lexicon":
        write_lexicon(Path(sys.argv[2]), int(sys.argv[3]), never_in_texts=sys.argv[4:] != ["--unconstrained"])
    else:
        sys.exit("usage: _common.py write-lexicon PATH TERMS [--unconstrained]")
