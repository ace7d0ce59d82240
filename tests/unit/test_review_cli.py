"""render --check, diff --against and explain --format markdown, as a user runs them."""

from __future__ import annotations

import os
from pathlib import Path

from mtaharden.target_names import TARGET_NAMES
from tests.unit.test_cli import POLICY, render, run, tree, write_policy

# --- render --check ---------------------------------------------------------------------------


def test_check_passes_on_fresh_output_and_writes_nothing(tmp_path: Path) -> None:
    policy = write_policy(tmp_path)
    out = tmp_path / "out"
    render(policy, out)
    before = tree(tmp_path)
    result = run("render", str(policy), "--check", str(out), "--target", "postfix", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert f"{out}: up to date with {policy} (postfix)" in result.stderr
    assert tree(tmp_path) == before, "--check writes nothing, not even the default out/"


def test_check_shows_a_unified_diff_and_exits_1(tmp_path: Path) -> None:
    policy = write_policy(tmp_path)
    out = tmp_path / "out"
    render(policy, out)
    main_cf = out / "postfix" / "main.cf"
    main_cf.write_text(main_cf.read_text().replace("smtpd_recipient_limit = 100", "smtpd_recipient_limit = 500"))
    (out / "postfix" / "sender_access").unlink()
    (out / "postfix" / "stale.cidr").write_text("10.0.0.0/8 OK\n")
    before = tree(tmp_path)
    result = run("render", str(policy), "--check", str(out), "--target", "postfix")
    assert result.returncode == 1
    assert tree(tmp_path) == before
    assert f"--- {main_cf}\tcommitted\n+++ {main_cf}\trendered\n" in result.stdout
    assert "\n-smtpd_recipient_limit = 500\n+smtpd_recipient_limit = 100\n" in result.stdout
    assert f"--- /dev/null\tcommitted\n+++ {out}/postfix/sender_access\trendered\n" in result.stdout
    assert f"--- {out}/postfix/stale.cidr\tcommitted\n+++ /dev/null\trendered\n@@ -1 +0,0 @@\n-10.0.0.0/8 OK\n" \
        in result.stdout
    assert f"3 file(s) in {out} differ from what {policy} renders" in result.stderr


def test_check_reports_a_lost_executable_bit(tmp_path: Path) -> None:
    policy = write_policy(tmp_path, "")
    out = tmp_path / "out"
    assert run("render", str(policy), "--out", str(out), "--target", "qmail").returncode == 0
    script = out / "qmail" / "service" / "qmail-smtpd" / "run"
    os.chmod(script, 0o644)
    result = run("render", str(policy), "--check", str(out), "--target", "qmail")
    assert result.returncode == 1
    assert result.stdout == f"{script}: mode -rw-r--r--, rendered -rwxr-xr-x\n"


def test_check_respects_set_and_target(tmp_path: Path) -> None:
    policy = write_policy(tmp_path)
    out = tmp_path / "out"
    render(policy, out, "--set", "hostname=mx9.example.org")
    assert run("render", str(policy), "--check", str(out), "-t", "postfix",
               "--set", "hostname=mx9.example.org").returncode == 0
    without = run("render", str(policy), "--check", str(out), "-t", "postfix")
    assert without.returncode == 1
    assert "-myhostname = mx9.example.org\n+myhostname = mx1.example.org\n" in without.stdout
    other_target = run("render", str(policy), "--check", str(out), "-t", "sendmail")
    assert other_target.returncode == 1, "no sendmail output was committed"
    assert f"--- /dev/null\tcommitted\n+++ {out}/sendmail/sendmail.mc\trendered" in other_target.stdout


def test_check_usage_errors(tmp_path: Path) -> None:
    policy = write_policy(tmp_path)
    missing = run("render", str(policy), "--check", str(tmp_path / "nope"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    both = run("render", str(policy), "--check", str(tmp_path), "--out", str(tmp_path / "out"))
    assert both.returncode == 2 and "give either --out or --check" in both.stderr
    bad = run("render", str(write_policy(tmp_path, "role: nope\n", "bad.yml")), "--check", str(tmp_path))
    assert bad.returncode == 2 and bad.stdout == ""


# --- diff --against ---------------------------------------------------------------------------

HOST_MAIN_CF = """\
# the host's current main.cf, written by hand
smtpd_banner = $myhostname ESMTP $mail_name
alias_maps = hash:/etc/aliases
biff = yes
mynetworks = 127.0.0.0/8 [::1]/128
    192.0.2.0/24
"""


def test_diff_compares_main_cf_by_meaning_and_other_files_as_text(tmp_path: Path) -> None:
    policy = write_policy(tmp_path)
    host = tmp_path / "host"
    render(policy, host)
    main_cf, master_cf = host / "postfix" / "main.cf", host / "postfix" / "master.cf"
    rendered_main_cf = main_cf.read_text()
    assert run("diff", str(policy), "--against", str(host), "-t", "postfix").returncode == 0
    main_cf.write_text(rendered_main_cf.replace("mynetworks = 127.0.0.0/8, [::1]/128, 192.0.2.0/24",
                                                "mynetworks =\n  192.0.2.0/24\n  127.0.0.0/8") + "biff = yes\n")
    master_cf.write_text(master_cf.read_text().replace("smtpd_tls_auth_only=yes", "smtpd_tls_auth_only=no"))
    (host / "postfix" / "client_access.cidr").unlink()
    (host / "postfix" / "COVERAGE.md").write_text("not installed on a host\n")
    (host / "postfix" / "dynamicmaps.cf").write_text("a host file render does not manage\n")
    result = run("diff", str(policy), "--against", str(host), "--target", "postfix")
    assert result.returncode == 1, result.stderr
    assert result.stdout.startswith("# postfix: 3 file(s) would change\n")
    assert (f"--- {main_cf}\tcurrent\n+++ {main_cf}\trendered (parameters, by meaning)\n"
            "- biff = yes\n+ biff = no\n"
            "- mynetworks = 192.0.2.0/24 127.0.0.0/8\n+ mynetworks = 127.0.0.0/8, [::1]/128, 192.0.2.0/24\n") \
        in result.stdout
    assert f"--- {master_cf}\tcurrent\n+++ {master_cf}\trendered\n" in result.stdout
    assert "\n-  -o smtpd_tls_auth_only=no\n+  -o smtpd_tls_auth_only=yes\n" in result.stdout
    assert f"--- /dev/null\tcurrent\n+++ {host}/postfix/client_access.cidr\trendered\n" in result.stdout
    assert "COVERAGE.md" not in result.stdout and "dynamicmaps" not in result.stdout


def test_diff_names_a_file_an_earlier_render_wrote_that_this_one_no_longer_writes(tmp_path: Path) -> None:
    """The example's DNSBL replies live in rbl_reply; a policy without DNSBLs renders none, and installing
    leaves the old one in place: diff says so, and leaves the host's own files alone."""
    host = tmp_path / "host"
    render(write_policy(tmp_path, "dnsbl: [{zone: zen.spamhaus.org}]\n", "old.yml"), host)
    assert (host / "postfix" / "rbl_reply").exists()
    (host / "postfix" / "dynamicmaps.cf").write_text("a host file render does not manage\n")
    result = run("diff", str(write_policy(tmp_path, "", "new.yml")), "--against", str(host), "-t", "postfix")
    assert result.returncode == 1, result.stderr
    assert (f"{host}/postfix/rbl_reply: written by an earlier mtaharden render, not rendered now: installing "
            "leaves it in place") in result.stdout
    assert "dynamicmaps" not in result.stdout


def test_diff_against_a_hand_written_main_cf(tmp_path: Path) -> None:
    policy = write_policy(tmp_path, "networks: {trusted: [127.0.0.0/8, '::1/128', 192.0.2.0/24]}\n")
    host = tmp_path / "host"
    (host / "postfix").mkdir(parents=True)
    (host / "postfix" / "main.cf").write_text(HOST_MAIN_CF)
    result = run("diff", str(policy), "--against", str(host))
    assert result.returncode == 1
    assert "- biff = yes\n+ biff = no\n" in result.stdout
    assert "alias_maps" not in result.stdout, "Debian's alias_maps, which the render keeps"
    assert "mynetworks =" not in result.stdout, "the same networks, laid out differently"
    assert "+ smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination\n" in result.stdout
    for skipped in set(TARGET_NAMES) - {"postfix"}:
        assert f"{skipped}: no {host / skipped}, skipped" in result.stderr


def test_diff_usage_errors(tmp_path: Path) -> None:
    policy = write_policy(tmp_path, POLICY)
    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = run("diff", str(policy), "--against", str(empty))
    assert nothing.returncode == 2 and "holds no configuration for all" in nothing.stderr
    (empty / "postfix").mkdir()
    (empty / "postfix" / "main.cf").write_text("mynetworks\n")
    broken = run("diff", str(policy), "--against", str(empty), "-t", "postfix")
    assert broken.returncode == 2
    assert broken.stderr.startswith(f"{empty}/postfix/main.cf: line 1: expected 'name = value'")
    assert run("diff", str(policy)).returncode == 2, "--against is required"


# --- explain --format markdown ----------------------------------------------------------------


def test_explain_markdown_has_the_stance_and_each_targets_coverage(tmp_path: Path) -> None:
    policy = write_policy(tmp_path)
    result = run("explain", str(policy), "--format", "markdown")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert text.startswith(f"## mtaharden explain: {policy}".replace("_", "\\_"))
    assert ("**Relay stance:** this server relays only for 192.0.2.0/24 and authenticated users; accepts mail for "
            "example.org, and forwards mail for dept.example.org.\n") in text
    for target in TARGET_NAMES:
        assert f"\n### {target}\n" in text
    assert r"| `networks.trusted` | enforced | mynetworks + permit\_mynetworks in smtpd\_relay\_restrictions |" in text
    assert "**Not enforced by qmail:** `auth`" in text
    assert "| `auth` | **unsupported** |" in text


def test_explain_text_starts_with_the_stance(tmp_path: Path) -> None:
    result = run("explain", str(write_policy(tmp_path)), "-t", "postfix")
    assert result.stdout.startswith("relay stance: this server relays only for 192.0.2.0/24 and authenticated users")
