"""Text Sendmail takes, through the real m4 and sendmail-cf: every value arrives in sendmail.cf as
written, m4 says nothing and runs nothing, and what Sendmail cannot carry is reported unsupported.

m4 expands a macro name wherever it stands as a word, and cf.m4 rescans values on their way to
sendmail.cf, so names and paths that are perfectly valid (a host called dnl.example.org, a folder
called LOCAL_CONFIG) are as dangerous as hostile text. The access map never passes through m4:
makemap reads it back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mtaharden.targets.base import Plan
from mtaharden.targets.sendmail.contexts import McFile
from tests.conftest import render_policy
from tests.realmta.harness import Sendmail, run
from tests.robustness.hostile import BASE, HOSTILE, PASSWD_LINE, WRITTEN, accepted_everywhere
from tests.robustness.readback import compiled_cf, with_options

WORDS = "/etc/dnl/LOCAL_CONFIG/m4exit/divert"  # m4 builtins and a sendmail-cf macro, as folder names
PATH_OPTIONS = {"queue_dir": "QueueDirectory", "pid_file": "PidFile", "status_file": "StatusFile",
                "help_file": "HelpFile", "alias_file": "AliasFile", "ca_path": "CACertPath", "ca_file": "CACertFile"}


def compile_policy(data: dict[str, Any], work: Path) -> tuple[Plan, list[str]]:
    # OSTYPE(debian) includes Debian's autoconf.m4, which the unpacked sendmail-cf here lacks.
    plan, out = render_policy(with_options(data, "sendmail", ostype="linux"), work, "sendmail")
    lines = compiled_cf(out)
    assert PASSWD_LINE not in lines
    return plan, lines


def test_m4_words_in_names_and_paths_stay_text(m4_tools: None, tmp_path: Path) -> None:
    hostname, zone = "dnl.divert.m4exit.example.org", "dnl.lower.m4.example.net"
    options = {name: f"{WORDS}/{name}" for name in PATH_OPTIONS} | {"settings_dir": f"{WORDS}/mail"}
    data = {"hostname": hostname, "dnsbl": [{"zone": zone}], "tls": {"cert": f"{WORDS}/c.pem", "key": f"{WORDS}/k.pem"},
            "targets": {"sendmail": options}}
    _, lines = compile_policy(data, tmp_path)
    expected = [f"Dj{hostname}", f"Fw{WORDS}/mail/local-host-names", f"FR-o {WORDS}/mail/relay-domains",
                f"Kaccess hash -T<TMPF> {WORDS}/mail/access", f"O ServerCertFile={WORDS}/c.pem",
                f"O ServerKeyFile={WORDS}/k.pem", f"R$-.$-.$-.$-\t\t$: <?> $(ednsbl $4.$3.$2.$1.{zone}. $: OK $)",
                *(f"O {option}={WORDS}/{name}" for name, option in PATH_OPTIONS.items())]
    assert [line for line in expected if line not in lines] == []


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_text_arrives_as_written_or_is_reported(m4_tools: None, tmp_path: Path, hostile: str) -> None:
    data, taken = accepted_everywhere(hostile, WRITTEN)
    plan, lines = compile_policy(data, tmp_path / "r")
    unsupported = {item.element for item in plan.coverage if item.status == "unsupported"}
    (mc,) = [f for f in plan.files if f.path == "sendmail.mc"]
    assert isinstance(mc.context, McFile)
    raw = [*mc.context.local_config, *mc.context.local_rulesets]  # HELO and header rules, header maps
    assert [line for line in raw if line not in lines] == []

    greeting = f"$j {hostile}" if ("smtp", "banner") in taken and "smtp.banner" not in unsupported else "$j"
    assert f"O SmtpGreetingMessage={greeting}" in lines
    assert "$" not in greeting.removeprefix("$j"), "Sendmail would expand it (e.g. $v, its version)"
    if ("dnsbl", 0, "message") in taken and "dnsbl[0]" not in unsupported:
        assert f'R<?>127.0.0.2.\t$#error $@ 5.7.1 $: "550 {hostile}"' in lines

    written = {(stage, 0): f"access.{stage}[0]" in unsupported for stage in ("clients", "senders", "recipients")}
    messages = [hostile if ("access", stage, 0, "message") in taken else BASE["access"][stage][0]["message"]
                for (stage, _), gap in written.items() if not gap]
    access = access_map(tmp_path / "r" / "out" / "sendmail")
    assert sorted(value for value in access.values() if value.startswith("ERROR")) == sorted(
        f'ERROR:5.7.1:"550 {message}"' for message in messages)


def access_map(settings_dir: Path) -> dict[str, str]:
    """The access map as makemap builds and dumps it (keys folded to lower case, as Sendmail looks them up)."""
    cf, source = settings_dir / "sendmail.cf", settings_dir / "access"
    run([str(Sendmail.makemap), "-C", str(cf), "hash", str(source)], input_text=source.read_text())
    dump = run([str(Sendmail.makemap), "-C", str(cf), "-u", "hash", str(source)]).stdout
    return dict(line.split("\t", 1) for line in dump.splitlines())
