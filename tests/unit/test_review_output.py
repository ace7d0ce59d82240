"""explain and diff-policy in every medium: piped (plain, whole cells), on a terminal (a pty: a table, colour
unless NO_COLOR), forced with --color, and render's next steps read off the Plan."""

from __future__ import annotations

import functools
import io
import json
import os
import pty
import re
import select
import shlex
import subprocess
from pathlib import Path

import pytest

from mtaharden.review.terminal import wants_color
from tests.conftest import EXAMPLE_POLICY
from tests.unit.test_cli import command, run

ANSI = re.compile(r"\x1b\[[0-9;]*m")
RED = re.compile(r"\x1b\[[0-9;]*31[0-9;]*m")  # any SGR sequence that sets red
LONG_NAME = "ms-Exch-SMTP-Accept-Any-Recipient"  # rich cut it to "ms-Exch-SMTP-Accept-Any-Reci…" at 80 columns


def run_env(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"NO_COLOR", "FORCE_COLOR", "COLUMNS"}}
    return subprocess.run([*command(), *args], capture_output=True, text=True, timeout=60, check=False,
                          env={**clean, **env})


def on_a_terminal(*args: str, expect: int = 0, env: dict[str, str] | None = None) -> str:
    """The command's stdout when stdout is a terminal (a pty), read until it exits (bounded)."""
    clean = {k: v for k, v in os.environ.items() if k not in {"NO_COLOR", "FORCE_COLOR", "COLUMNS"}}
    leader, follower = pty.openpty()
    try:
        process = subprocess.Popen([*command(), *args], stdout=follower, stderr=subprocess.DEVNULL,
                                   env={**clean, "TERM": "xterm-256color", **(env or {})})
        os.close(follower)
        chunks: list[bytes] = []
        for _ in range(2000):  # at most 2000 reads of 0.05 s idle
            ready, _, _ = select.select([leader], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:  # EIO: the child closed the pty
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            elif process.poll() is not None:
                break
        assert process.wait(timeout=30) == expect
    finally:
        os.close(leader)
    return b"".join(chunks).decode()


@functools.cache
def coverage(target: str) -> list[dict[str, str]]:
    done = run("explain", str(EXAMPLE_POLICY), "-t", target, "--format", "json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["targets"][target]  # type: ignore[no-any-return]


# --- explain, piped -------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["exchange", "qmail"])
def test_piped_explain_prints_every_cell_whole(target: str) -> None:
    result = run_env("explain", str(EXAMPLE_POLICY), "-t", target)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert not ANSI.search(text) and "━" not in text, "plain text in a pipe"
    assert text.count("…") == sum(item["detail"].count("…") for item in coverage(target)), "no cell cut short"
    flat = " ".join(text.split())
    for item in coverage(target):  # each row's cells, in order, with nothing left out (wrapping only moves spaces)
        row = " ".join(f"{item['element']} {item['status']} {item['detail']}".split())
        assert row in flat, row
    if target == "exchange":
        assert LONG_NAME in text
    for line in text.splitlines()[1:]:  # past the stance sentence: wrapped at 100, unless one word is longer
        assert len(line) <= 100 or " " not in line.rstrip()[100:], line


def test_piped_explain_lists_the_unenforced_elements() -> None:
    gaps = [item["element"] for item in coverage("qmail") if item["status"] == "unsupported"]
    assert gaps
    text = run_env("explain", str(EXAMPLE_POLICY), "-t", "qmail").stdout
    assert f"not enforced by qmail: {', '.join(gaps)}" in " ".join(text.split())


def test_color_always_colours_a_pipe_and_overrides_no_color() -> None:
    for env in ({}, {"NO_COLOR": "1"}):
        text = run_env("explain", str(EXAMPLE_POLICY), "-t", "qmail", "--color", "always", **env).stdout
        unsupported = next(line for line in text.splitlines() if " unsupported " in line)
        assert RED.match(unsupported), repr(unsupported)
        assert "┏" not in text, "a pipe gets plain lines, coloured"


def test_color_never_and_no_color_keep_a_terminal_colourless() -> None:
    for args, env in ((("--color", "never"), {}), ((), {"NO_COLOR": "1"})):
        text = on_a_terminal("explain", str(EXAMPLE_POLICY), "-t", "qmail", *args, env=env)
        assert "┏" in text, "still a table on a terminal"
        assert not RED.search(text) and "\x1b[33m" not in text, repr(text[:400])


def test_a_terminal_gets_a_coloured_table_that_folds_instead_of_cutting() -> None:
    text = on_a_terminal("explain", str(EXAMPLE_POLICY), "-t", "exchange")
    assert "┏" in text and RED.search(text)
    assert text.count("…") == sum(item["detail"].count("…") for item in coverage("exchange")), "no cell cut short"
    assert LONG_NAME in "".join(re.sub(r"[│ ]", "", ANSI.sub("", line)) for line in text.splitlines())


def test_wants_color_follows_no_color_org() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert wants_color("auto", Tty(), {}) and not wants_color("auto", Tty(), {"NO_COLOR": "1"})
    assert wants_color("auto", Tty(), {"NO_COLOR": ""}), "an empty NO_COLOR is unset (no-color.org)"
    assert not wants_color("auto", io.StringIO(), {})
    assert wants_color("always", io.StringIO(), {"NO_COLOR": "1"}) and not wants_color("never", Tty(), {})


# --- diff-policy text -----------------------------------------------------------------------------


def risky_pair(tmp_path: Path) -> tuple[Path, Path]:
    old, new = tmp_path / "old.yml", tmp_path / "new.yml"
    text = EXAMPLE_POLICY.read_text()
    old.write_text(text)
    new.write_text(text.replace("202.112.57.0/24", "202.112.0.0/16").replace("max_recipients: 200",
                                                                             "max_recipients: 150"))
    return old, new


def test_diff_policy_emphasises_risky_lines_only_when_asked_or_on_a_terminal(tmp_path: Path) -> None:
    old, new = risky_pair(tmp_path)
    piped = run_env("diff-policy", str(old), str(new))
    assert piped.returncode == 1 and not ANSI.search(piped.stdout)
    coloured = run_env("diff-policy", str(old), str(new), "--color", "always")
    assert coloured.returncode == 1
    lines = coloured.stdout.splitlines()
    risky = [line for line in lines if "RISKY" in line]
    assert risky and all(RED.match(line) for line in risky)
    harmless = [line for line in lines if "smtp.max_recipients" in line]
    assert harmless and not any(RED.search(line) for line in harmless)
    assert ANSI.sub("", coloured.stdout) == piped.stdout, "colour adds emphasis, never words"
    terminal = on_a_terminal("diff-policy", str(old), str(new), "--color", "auto", expect=1)
    assert RED.search(next(line for line in terminal.splitlines() if "RISKY" in line))


# --- render: next steps -----------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["postfix", "qmail", "sendmail", "exim", "opensmtpd"])
def test_render_says_what_to_do_next_from_the_plan(tmp_path: Path, target: str) -> None:
    out = tmp_path / "out"
    result = run("render", str(EXAMPLE_POLICY), "--out", str(out), "-t", target)
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(rf"{target}: \d+ files in {re.escape(str(out / target))}\n", result.stdout), \
        "stdout keeps its one line per target"
    plan = json.loads(run("plan", str(EXAMPLE_POLICY), "-t", target).stdout)
    steps = result.stderr[result.stderr.index(f"next for {target} "):]
    for planned in plan["files"]:
        if planned["dest"] is not None:
            folder = planned["dest"].rpartition("/")[0]
            assert re.search(rf"{re.escape(planned['path'])}.* → {re.escape(folder)}/ \({planned['mode']}\)", steps)
    for folder in plan["folders"]:
        assert f"-m {folder['mode']} {folder['path']}" in steps
    for phase, title in (("build", "build:"), ("check", "check (each must print nothing):"),
                         ("apply", "when it runs, ")):
        commands = [shlex.join(s["argv"]) for s in plan["steps"] if s["phase"] == phase]
        if commands:
            assert title in steps
        for text in commands:
            assert (text if len(text) <= 100 else "[") in steps
    starts = [shlex.join(argv) if len(shlex.join(argv)) <= 100 else shlex.join(("sh", "-c", "…", *argv[3:]))
              for argv in plan["service"]["start"]]
    assert "  first start:\n" + "".join(f"    {text}\n" for text in starts) in steps


def test_render_of_exchange_says_there_is_nothing_to_install(tmp_path: Path) -> None:
    result = run("render", str(EXAMPLE_POLICY), "--out", str(tmp_path / "out"), "-t", "exchange")
    assert "next for exchange: nothing to install; read and run by hand: harden.ps1 GUIDE.md COVERAGE.md" \
        in result.stderr


def test_plan_lists_the_folders_a_fresh_host_needs() -> None:
    def folders(target: str) -> dict[str, tuple[str, str, str]]:
        data = json.loads(run("plan", str(EXAMPLE_POLICY), "-t", target).stdout)
        return {f["path"]: (f["owner"], f["group"], f["mode"]) for f in data["folders"]}

    assert folders("postfix") == {"/var/spool/postfix": ("root", "root", "0755"),
                                  "/var/lib/postfix": ("postfix", "postfix", "0700")}
    assert folders("qmail") == {"/var/log/qmail/smtpd": ("qmaill", "", "0750")}
    assert folders("sendmail")["/var/spool/mqueue"] == ("smmta", "smmsp", "2750")
    assert folders("exim") == {"/var/spool/exim4": ("Debian-exim", "Debian-exim", "0750")}
    assert folders("exchange") == {}
