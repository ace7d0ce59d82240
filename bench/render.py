"""Benchmark rendering at ISP scale; prints figures, asserts nothing.

(a) render: a policy with N client addresses in a list file (N = 1k, 10k, 100k, 1M) plus 10,000
    relay domains written inline in the YAML, rendered with ``mtaharden render --target T`` in a child
    process; then, on the map that render wrote, the MTA's own indexer on the same entries:
    ``postmap hash:`` (Postfix: client_access.0), ``makemap hash`` (Sendmail: access) and
    ``tcprules`` (qmail: tcp.smtp). Median wall time of three runs, that run's CPU seconds (user +
    system: the cost, whatever else loads the machine) and the child's peak RSS (see child.py).
(b) load: policies whose N sender rules are written inline in the YAML, validated through the fast
    reader (libyaml; ``mtaharden validate``) and through the located ruamel path (PyYAML hidden).

    python bench/render.py                                 # (a) and (b), default sizes
    python bench/render.py --sizes 1000,10000 --targets postfix
    python bench/render.py --only load --load-sizes 1000,10000,100000
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import child
from child import MTAHARDEN, Run

SENDMAIL_ROOT = Path(os.environ.get("MTAHARDEN_SENDMAIL_ROOT", "/var/cache/mtaharden/sendmail-root"))
MAKEMAP = SENDMAIL_ROOT / "usr/libexec/sendmail/makemap"
SENDMAIL_CF = SENDMAIL_ROOT / "usr/share/sendmail/cf"
RELAY_DOMAINS = 10_000
REPEAT = 3  # every figure is the median of three runs: postmap's fdatasync calls make single runs noisy
# What the located path costs: the same load with PyYAML's C parser switched off.
LOCATED_LOAD = ("import sys; from mtaharden.policy import fastyaml, load_policy; "
                "fastyaml.AVAILABLE = False; load_policy(sys.argv[1])")


def measure(argv: Sequence[str], *, stdin: Path | None = None) -> Run:
    """Every figure of this benchmark: the median of :data:`REPEAT` runs."""
    return child.measure(argv, stdin=stdin, repeat=REPEAT)


def client_list(path: Path, count: int) -> None:
    """``count`` distinct IPv4 addresses from 10.0.0.0 up, with a comment line every 1000."""
    with open(path, "w") as out:
        for n in range(count):
            if n % 1000 == 0:
                out.write(f"# block {n // 1000}\n")
            out.write(f"{10 + (n >> 24)}.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}\n")


def render_policy(folder: Path, count: int) -> Path:
    client_list(folder / "clients.txt", count)
    domains = ", ".join(f"d{n}.relay.example.net" for n in range(RELAY_DOMAINS))
    policy = folder / "policy.yml"
    policy.write_text(f"""version: 1
hostname: mx.bench.example
domains:
  local: [bench.example]
  relay: [{domains}]
networks:
  trusted: [127.0.0.1/32]
access:
  clients:
    - {{file: clients.txt, action: reject, message: "Listed here"}}
smtp: {{require_helo: false, strict_envelopes: false, max_recipients: 1000}}
targets:
  sendmail: {{cf_dir: {SENDMAIL_CF}, ostype: linux, makemap: {MAKEMAP}, allow_unsupported: [smtp]}}
  qmail: {{allow_unsupported: [smtp]}}
""")
    return policy


def reference(target: str, out: Path, scratch: Path) -> tuple[str, Run] | None:
    """The MTA's own indexer on the map render wrote (None when the tool is missing)."""
    if target == "postfix" and shutil.which("postmap"):
        (scratch / "main.cf").touch()  # postmap reads a main.cf; an empty one keeps it neutral
        return "postmap hash:client_access.0", measure(
            ["postmap", "-c", str(scratch), f"hash:{out / 'postfix' / 'client_access.0'}"])
    if target == "sendmail" and MAKEMAP.exists() and shutil.which("m4"):
        settings = out / "sendmail"
        cf = settings / "sendmail.cf"
        with open(cf, "w") as compiled:
            subprocess.run(["m4", str(SENDMAIL_CF / "m4/cf.m4"), str(settings / "sendmail.mc")], stdout=compiled,
                           check=True)
        return "makemap hash access", measure([str(MAKEMAP), "-C", str(cf), "hash", str(settings / "access")],
                                              stdin=settings / "access")
    if target == "qmail" and shutil.which("tcprules"):
        rules = out / "qmail" / "tcp.smtp"
        return "tcprules tcp.smtp.cdb", measure(["tcprules", f"{rules}.cdb", f"{rules}.tmp"], stdin=rules)
    return None


def bench_render(sizes: Sequence[int], targets: Sequence[str]) -> None:
    start = measure([MTAHARDEN, "--version"])
    print(f"(a) render; CLI start-up (mtaharden --version): {start.seconds:.3f} s, {start.peak_mib:.0f} MiB")
    print(f"    {'target':9} {'entries':>9} {'render s':>9} {'CPU s':>6} {'µs/entry':>9} {'MiB':>6}   reference tool"
          f"{'':21} {'s':>7} {'CPU s':>6} {'MiB':>6}   render/ref (wall, CPU)")
    for count in sizes:
        with tempfile.TemporaryDirectory(prefix="mtaharden-bench-") as work:
            folder = Path(work)
            policy = render_policy(folder, count)
            for target in targets:
                out = folder / f"out-{target}"
                rendered = measure([MTAHARDEN, "render", str(policy), "--target", target, "--out", str(out)])
                ref = reference(target, out, folder)
                line = (f"    {target:9} {count:>9,} {rendered.seconds:>9.3f} {rendered.cpu_seconds:>6.2f} "
                        f"{rendered.seconds / count * 1e6:>9.2f} {rendered.peak_mib:>6.0f}")
                if ref:
                    name, run = ref
                    ratio = rendered.seconds / run.seconds
                    cpu_ratio = rendered.cpu_seconds / run.cpu_seconds if run.cpu_seconds else float("nan")
                    line += (f"   {name:35} {run.seconds:>7.3f} {run.cpu_seconds:>6.2f} {run.peak_mib:>6.0f}   "
                             f"{ratio:.2f}x, {cpu_ratio:.2f}x")
                print(line, flush=True)
                shutil.rmtree(out)


def bench_load(sizes: Sequence[int]) -> None:
    print("(b) load: N sender rules inline in the YAML")
    print(f"    {'rules':>9} {'fast path s':>12} {'MiB':>6} {'located path s':>15} {'MiB':>6}   speed-up")
    for count in sizes:
        with tempfile.TemporaryDirectory(prefix="mtaharden-bench-") as work:
            policy = Path(work) / "policy.yml"
            rules = "".join(f"    - {{match: user{n}@spam{n % 977}.example, action: reject}}\n" for n in range(count))
            policy.write_text("version: 1\naccess:\n  senders:\n" + rules)
            fast = measure([MTAHARDEN, "validate", str(policy)])
            located = measure([sys.executable, "-c", LOCATED_LOAD, str(policy)])
            print(f"    {count:>9,} {fast.seconds:>12.3f} {fast.peak_mib:>6.0f} {located.seconds:>15.3f} "
                  f"{located.peak_mib:>6.0f}   {located.seconds / fast.seconds:.1f}x", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,100000,1000000", help="client list sizes for (a)")
    parser.add_argument("--targets", default="postfix,sendmail,qmail")
    parser.add_argument("--load-sizes", default="1000,10000,100000", help="inline rule counts for (b)")
    parser.add_argument("--only", choices=["render", "load"])
    args = parser.parse_args()
    if args.only != "load":
        bench_render([int(n) for n in args.sizes.split(",")], args.targets.split(","))
    if args.only != "render":
        bench_load([int(n) for n in args.load_sizes.split(",")])


if __name__ == "__main__":
    main()
