"""Benchmark header checks with Chinese text against ASCII ones on Postfix's own pcre tables; prints figures.

Two policies of N Subject rules each (default 100): Chinese rules of two literals (``(?i)(发票|代开)``
style, random CJK characters; each becomes a raw, three base64 and a Q line per charset of the default
list) and ASCII rules of two words. Both are rendered with ``mtaharden render --target postfix``; then
``postmap -q - pcre:header_checks.pcre`` (the dict_pcre code cleanup runs on every header) looks up a
corpus of Subject lines: clean Chinese subjects raw, B- and Q-encoded in UTF-8, GB18030 and Big5, and
ASCII ones, none matching (every line of the table is tried, the worst case). Figures: table lines and
bytes, table load (postmap on one line), and the cost per header = (corpus run - one-line run) / lines.
Median of three runs. Needs Postfix with postfix-pcre installed (``postmap``).

    python bench/headers.py              # 100 rules, 3000 subjects
    python bench/headers.py --rules 300 --subjects 10000
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

import child
from child import MTAHARDEN

CLEAN = "学术讲座通知会议安排课程期末考试成绩查询图书馆开放时间校园网络维护公告"
TRADITIONAL_CLEAN = "學術講座通知會議安排課程期末考試成績查詢圖書館開放時間"
REPEAT = 3


def cjk_rules(count: int, rng: random.Random) -> list[str]:
    """Two literals of two or three characters each, from characters every default charset holds."""
    pool = [chr(c) for c in range(0x4E00, 0x9FA6) if _in_all(chr(c)) and chr(c) not in CLEAN + TRADITIONAL_CLEAN]
    return ["(?i)(" + "|".join("".join(rng.sample(pool, rng.choice((2, 3)))) for _ in range(2)) + ")"
            for _ in range(count)]


def ascii_rules(count: int, rng: random.Random) -> list[str]:
    return ["(?i)(" + "|".join("".join(rng.choices("qwxzjv", k=rng.choice((6, 8)))) for _ in range(2)) + ")"
            for _ in range(count)]


def _in_all(char: str) -> bool:
    try:
        for charset in ("gb2312", "big5"):
            char.encode(charset)
    except UnicodeEncodeError:
        return False
    return True


def corpus(count: int, rng: random.Random) -> list[bytes]:
    """Subject lines that match no rule: clean Chinese text in each charset and form, and ASCII."""
    lines = []
    for index in range(count):
        text = "".join(rng.sample(CLEAN, rng.randint(4, 12)))
        charset = ("utf-8", "gb18030", "big5")[index % 3]
        if charset == "big5":
            text = "".join(rng.sample(TRADITIONAL_CLEAN, rng.randint(4, 12)))
        data = text.encode(charset)
        form = index % 4
        if form == 0:
            value = data
        elif form == 1:
            value = f"=?{charset}?B?".encode() + base64.b64encode(data) + b"?="
        elif form == 2:
            value = f"=?{charset}?Q?".encode() + "".join(f"={b:02X}" for b in data).encode() + b"?="
        else:
            value = b"Re: lunch at noon on " + str(index).encode()
        lines.append(b"Subject: " + value)
    return lines


def render(rules: list[str], work: Path) -> Path:
    policy = {"version": 1, "header_checks": [{"header": "Subject", "pattern": rule} for rule in rules]}
    (work / "policy.yml").write_text(json.dumps(policy, ensure_ascii=False))
    run = child.measure([MTAHARDEN, "render", str(work / "policy.yml"), "--target", "postfix", "--out",
                         str(work / "out")])
    print(f"  render: {run.seconds:.2f} s")
    return work / "out" / "postfix" / "header_checks.pcre"


def lookups(table: Path, subjects: Path, work: Path) -> float:
    (work / "main.cf").write_text("")  # postmap needs a config folder; an empty main.cf is Postfix's defaults
    argv = ["postmap", "-c", str(work), "-q", "-", f"pcre:{table}"]
    return child.measure(argv, stdin=subjects, repeat=REPEAT, ok=(0, 1)).seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rules", type=int, default=100)
    parser.add_argument("--subjects", type=int, default=3000)
    args = parser.parse_args(argv)
    rng = random.Random(18)
    subjects = corpus(args.subjects, rng)
    with tempfile.TemporaryDirectory(prefix="bench-headers-") as scratch:
        root = Path(scratch)
        (root / "corpus").write_bytes(b"\n".join(subjects) + b"\n")
        (root / "one").write_bytes(subjects[0] + b"\n")
        for name, rules in (("Chinese", cjk_rules(args.rules, rng)), ("ASCII", ascii_rules(args.rules, rng))):
            work = root / name
            work.mkdir()
            print(f"{args.rules} {name} rules, e.g. {rules[0]}")
            table = render(rules, work)
            text = table.read_bytes()
            lines = sum(1 for line in text.splitlines() if line and not line.startswith(b"#"))
            print(f"  header_checks.pcre: {lines} rule lines, {len(text) / 1024:.1f} KiB")
            load = lookups(table, root / "one", work)
            full = lookups(table, root / "corpus", work)
            misses = subprocess.run(["postmap", "-c", str(work), "-q", "-", f"pcre:{table}"],
                                    stdin=(root / "corpus").open("rb"), capture_output=True, check=False).stdout
            assert not misses, f"the corpus must match no rule: {misses[:200]!r}"
            per_header = (full - load) / len(subjects) * 1e6
            print(f"  postmap, one header (table load): {load * 1000:.0f} ms; {len(subjects)} headers: "
                  f"{full * 1000:.0f} ms; {per_header:.0f} us per header ({1e6 / per_header:.0f} headers/s)")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
