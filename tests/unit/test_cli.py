"""The ``mtaharden`` command as a user runs it: the installed console script, in a subprocess."""

from __future__ import annotations

import json
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from mtaharden import __version__
from tests.conftest import EXAMPLE_POLICY

POLICY = """\
version: 1
hostname: mx1.example.org
role: mx+submission
domains:
  local: [example.org]
  relay: [dept.example.org]
networks:
  trusted: [127.0.0.0/8, "::1/128", 192.0.2.0/24]
auth:
  enabled: true
  backend: cyrus
tls:
  cert: /etc/ssl/certs/mx1.pem
  key: /etc/ssl/private/mx1.key
dnsbl:
  - zone: zen.spamhaus.org
    match: ["127.0.0.[2..11]"]
access:
  clients: [{match: 198.51.100.0/24, action: reject, message: "go away"}]
  senders: [{match: "@spam.example", action: reject}]
header_checks:
  - {header: Subject, pattern: "(?i)make money fast", action: reject}
"""

EXPECTED_FILES = {
    "COVERAGE.md", "main.cf", "master.cf", "client_access.cidr", "sender_access", "header_checks.pcre",
    "rbl_reply", "sasl", "sasl/smtpd.conf",
}


def command() -> list[str]:
    script = Path(sys.executable).parent / "mtaharden"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from mtaharden.cli import main; sys.exit(main())"]


def run(*args: str, cwd: Path | None = None, umask: int = -1) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*command(), *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False,
                          umask=umask)


def write_policy(folder: Path, text: str = POLICY, name: str = "site.yml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def tree(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` with its bytes (None for folders)."""
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


def render(policy: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """Render the Postfix target only: these tests are about the command, not about what each target can do."""
    result = run("render", str(policy), "--out", str(out), "--target", "postfix", *extra)
    assert result.returncode == 0, result.stderr
    return result


# --- general ----------------------------------------------------------------------------------


def test_version() -> None:
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"mtaharden, version {__version__}"


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_lists_the_commands(flag: str) -> None:
    result = run(flag)
    assert result.returncode == 0
    for name in ("validate", "render", "explain", "schema"):
        assert re.search(rf"^\s+{name}\s", result.stdout, re.MULTILINE), result.stdout


def test_unknown_command_is_a_usage_error() -> None:
    result = run("frobnicate")
    assert result.returncode == 2
    assert "No such command" in result.stderr


def test_schema_is_json_with_the_policy_keys() -> None:
    result = run("schema")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert schema["type"] == "object"
    for key in ("version", "hostname", "role", "domains", "networks", "auth", "smtp", "tls", "targets"):
        assert key in schema["properties"]
    assert schema["additionalProperties"] is False


# --- validate ---------------------------------------------------------------------------------


def test_validate_accepts_a_good_policy(tmp_path: Path) -> None:
    policy = write_policy(tmp_path)
    result = run("validate", str(policy), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{policy}: valid (role mx+submission, 1 local and 1 relay domains")
    assert result.stderr == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site.yml"], "validate writes nothing"


@pytest.mark.skipif(not EXAMPLE_POLICY.exists(), reason="examples/policy.yml is not written yet")
def test_validate_accepts_the_bundled_example() -> None:
    result = run("validate", str(EXAMPLE_POLICY))
    assert result.returncode == 0, result.stderr


def test_validate_reports_every_problem_on_stderr(tmp_path: Path) -> None:
    policy = write_policy(tmp_path, "role: nope\nsmtp:\n  disable_vrfi: true\n")
    result = run("validate", str(policy))
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"{policy}:1:7: role: ")
    assert lines[1] == (f"{policy}:3:3: smtp.disable_vrfi: unknown key 'disable_vrfi' "
                        "(fix: did you mean 'disable_vrfy'?)")


def test_validate_missing_file(tmp_path: Path) -> None:
    result = run("validate", str(tmp_path / "absent.yml"))
    assert result.returncode == 2
    assert result.stderr.startswith(f"{tmp_path / 'absent.yml'}:1:1: cannot read the policy")


# --- render -----------------------------------------------------------------------------------


def test_render_writes_the_postfix_files_with_a_generated_header(tmp_path: Path) -> None:
    policy = write_policy(tmp_path)
    result = render(policy, tmp_path / "out")
    assert "postfix:" in result.stdout
    root = tmp_path / "out" / "postfix"
    assert set(tree(root)) == EXPECTED_FILES
    for path in root.rglob("*"):
        if path.is_dir():
            continue
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith(("# ", "<!-- ")), f"{path.name}: {first}"
        assert "Generated by mtaharden from the policy." in first, f"{path.name}: {first}"
        assert "site" not in first and str(tmp_path) not in first, "a renamed policy changes no byte"


def test_render_default_policy_writes_the_three_core_files(tmp_path: Path) -> None:
    policy = write_policy(tmp_path, "")
    render(policy, tmp_path / "out")
    assert set(tree(tmp_path / "out" / "postfix")) == {"main.cf", "master.cf", "COVERAGE.md"}


def test_a_renamed_policy_renders_the_same_bytes(tmp_path: Path) -> None:
    """The header names no file: renaming or moving the policy changes nothing (no restart)."""
    (tmp_path / "b").mkdir()
    plain, odd = write_policy(tmp_path, ""), write_policy(tmp_path / "b", "", name="site\npolicy -->.yml")
    render(plain, tmp_path / "out1")
    render(odd, tmp_path / "out2")
    first, second = (tree(tmp_path / out / "postfix") for out in ("out1", "out2"))
    assert first == second and first
    for path in (tmp_path / "out2" / "postfix").iterdir():
        assert "site" not in path.read_text().splitlines()[0], path.name


def test_render_is_deterministic(tmp_path: Path) -> None:
    policy = write_policy(tmp_path)
    render(policy, tmp_path / "a")
    render(policy, tmp_path / "b")
    first = tree(tmp_path / "a")
    assert first == tree(tmp_path / "b")
    render(policy, tmp_path / "a")
    assert tree(tmp_path / "a") == first, "rendering again in place changes nothing"


def test_render_replaces_files_no_longer_needed(tmp_path: Path) -> None:
    policy = write_policy(tmp_path)
    out = tmp_path / "out"
    render(policy, out)
    assert (out / "postfix" / "sender_access").exists()
    write_policy(tmp_path, POLICY.replace('  senders: [{match: "@spam.example", action: reject}]\n', ""))
    render(policy, out)
    files = tree(out / "postfix")
    assert "sender_access" not in files
    assert "check_sender_access" not in (out / "postfix" / "main.cf").read_text()
    assert sorted(p.name for p in out.iterdir()) == ["postfix"], "no staging or .old folders left behind"


def test_render_keeps_other_files_in_the_out_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "README.txt").write_text("mine\n")
    render(write_policy(tmp_path), out)
    assert (out / "README.txt").read_text() == "mine\n"


def test_render_unknown_target_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    policy = write_policy(tmp_path)
    result = run("render", str(policy), "--target", "nope", "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "unknown target 'nope'" in result.stderr and "(fix: " in result.stderr
    assert not (tmp_path / "out").exists()


def test_render_single_target(tmp_path: Path) -> None:
    render(write_policy(tmp_path), tmp_path / "out")
    assert (tmp_path / "out" / "postfix" / "main.cf").is_file()


def test_render_modes(tmp_path: Path) -> None:
    render(write_policy(tmp_path), tmp_path / "out")
    root = tmp_path / "out" / "postfix"
    for path in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o755 if path.is_dir() else 0o644), f"{path}: {oct(mode)}"


def test_render_file_modes_do_not_depend_on_the_umask(tmp_path: Path) -> None:
    result = run("render", str(write_policy(tmp_path)), "--out", str(tmp_path / "out"), "--target", "postfix",
                 umask=0o077)
    assert result.returncode == 0, result.stderr
    root = tmp_path / "out" / "postfix"
    assert stat.S_IMODE(root.stat().st_mode) == 0o755
    for path in root.rglob("*"):
        if path.is_file():
            assert stat.S_IMODE(path.stat().st_mode) == 0o644, path


def test_render_sub_folder_modes_do_not_depend_on_the_umask(tmp_path: Path) -> None:
    result = run("render", str(write_policy(tmp_path)), "--out", str(tmp_path / "out"), "--target", "postfix",
                 umask=0o077)
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE((tmp_path / "out" / "postfix" / "sasl").stat().st_mode) == 0o755


# --- explain ----------------------------------------------------------------------------------


def test_explain_json_lists_coverage(tmp_path: Path) -> None:
    result = run("explain", str(write_policy(tmp_path)), "--format", "json", "--target", "postfix")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert list(data["targets"]) == ["postfix"]
    assert data["relay_stance"].startswith("relays only for 192.0.2.0/24 and authenticated users;")
    entries = data["targets"]["postfix"]
    assert entries, "coverage is never empty"
    for entry in entries:
        assert set(entry) == {"element", "status", "detail"}
        assert entry["status"] in {"enforced", "approximated", "unsupported"}
        assert entry["detail"]
    elements = {entry["element"] for entry in entries}
    assert {"role", "networks.trusted", "auth", "dnsbl[0]", "access.clients", "header_checks[0]", "tls"} <= elements


def test_explain_text_shows_a_table(tmp_path: Path) -> None:
    result = run("explain", str(write_policy(tmp_path)))
    assert result.returncode == 0, result.stderr
    assert "networks.trusted" in result.stdout and "enforced" in result.stdout


def test_explain_bad_policy_exits_2(tmp_path: Path) -> None:
    result = run("explain", str(write_policy(tmp_path, "role: nope\n")), "--format", "json")
    assert result.returncode == 2
    assert result.stdout == ""


# --- unsupported elements ---------------------------------------------------------------------
# The Postfix target currently enforces or approximates every element, so no real policy produces an
# "unsupported" entry. The gate in the CLI is tested with a Postfix plan that gains one such entry.


WORD_BOUNDARY_POLICY = POLICY.replace('"(?i)make money fast"', '"\\\\bmoney\\\\b"')


def test_unsupported_element_fails_render_unless_waived(tmp_path: Path) -> None:
    """Sendmail's POSIX regex maps cannot express a word boundary: render refuses, unless waived."""
    policy = write_policy(tmp_path, WORD_BOUNDARY_POLICY)
    refused = run("render", str(policy), "--out", str(tmp_path / "out"), "--target", "sendmail")
    assert refused.returncode == 2
    assert "header_checks[0]: word boundaries" in refused.stderr
    assert "targets.sendmail.allow_unsupported" in refused.stderr
    assert not (tmp_path / "out").exists()

    waiver = "targets:\n  sendmail:\n    allow_unsupported: [header_checks]\n"
    waived = write_policy(tmp_path, WORD_BOUNDARY_POLICY + waiver, name="waived.yml")
    accepted = run("render", str(waived), "--out", str(tmp_path / "out"), "--target", "sendmail")
    assert accepted.returncode == 0, accepted.stderr
    assert "| `header_checks[0]` | unsupported |" in (tmp_path / "out" / "sendmail" / "COVERAGE.md").read_text()


def test_empty_policy_renders_every_target_and_reports_defaults_left_unenforced(tmp_path: Path) -> None:
    result = run("render", str(write_policy(tmp_path, "")), "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert "warning: qmail leaves the default smtp.require_helo unenforced" in result.stderr
    assert "| `smtp.require_helo` | unsupported |" in (tmp_path / "out" / "qmail" / "COVERAGE.md").read_text()


def test_a_stated_element_a_target_cannot_enforce_still_fails(tmp_path: Path) -> None:
    policy = write_policy(tmp_path, "smtp: {require_helo: true}\n")
    result = run("render", str(policy), "--out", str(tmp_path / "out"), "--target", "qmail")
    assert result.returncode == 2
    assert "qmail cannot enforce:\n  smtp.require_helo:" in result.stderr
    assert not (tmp_path / "out").exists()


def test_set_overrides_a_policy_value_and_is_located_when_wrong(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run("render", str(write_policy(tmp_path)), "--out", str(out), "--target", "postfix",
                 "--set", "hostname=mx9.example.org", "--set", "targets.postfix.smtp_port=2525")
    assert result.returncode == 0, result.stderr
    main_cf = (out / "postfix" / "main.cf").read_text()
    assert "myhostname = mx9.example.org" in main_cf
    assert (out / "postfix" / "master.cf").read_text().count("\n2525 ") == 1
    bad = run("validate", str(write_policy(tmp_path)), "--set", "networks.trusted=[0.0.0.0/0]")
    assert bad.returncode == 2
    assert bad.stderr.startswith("--set networks.trusted:1:19: networks.trusted.0: 0.0.0.0/0 is wider than /8")


def test_a_value_a_target_cannot_write_is_bad_input_and_nothing_is_written(tmp_path: Path) -> None:
    """Exim's address lists hold no local part '+': the render refuses with exit 2 and the reason, no traceback,
    and writes no folder (a refusal while planning, not only while laying the files out)."""
    policy = tmp_path / "policy.yml"
    policy.write_text('version: 1\naccess:\n  senders:\n    - {match: "+@example.org", action: reject}\n')
    result = subprocess.run([sys.executable, "-m", "mtaharden", "render", str(policy), "--target", "exim",
                             "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "exim cannot write this policy" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()
