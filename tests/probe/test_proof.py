"""The queue proof: queue IDs from end-of-DATA replies, each MTA's log read into relayed / not-relayed,
removal of the probe's messages, and the edge cases around DATA (greylisting, 5xx at the dot, a slow queue).

The MTA's tools are reached through a real ``Shell`` whose prefix is a small shell script standing in for
``ssh root@mx`` on a fake host: it prints a log file and records every command it was asked to run.
"""

from __future__ import annotations

import asyncio
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from mtaharden.probe import Endpoint, HostResult, HostStatus, ProbeOptions, Reply, Verdict, probe_host
from mtaharden.probe.cli import probe
from mtaharden.probe.matrix import QueueCheck
from mtaharden.probe.proof import QueueProof, Shell, proof_for
from tests.probe.fakes import FAST, FakeSmtp, open_rcpt

Serve = Callable[[FakeSmtp], FakeSmtp]
QMAIL_RELAYED = "nmap-01"  # the first case (null sender, plain foreign recipient)


def fake_host(tmp_path: Path, log: str) -> tuple[Shell, Path]:
    """A Shell that 'runs on the host': prints ``log`` for any read and records every argv to a file."""
    (tmp_path / "log").write_text(log)
    calls = tmp_path / "calls"
    script = f'printf "%s\\n" "$*" >> {calls}; cat {tmp_path / "log"}'
    return Shell(("sh", "-c", script, "via")), calls


def qmail_log(n: int, remote: set[int]) -> str:
    """qmail-send's log for messages 1..n (qp 1000+i, msg 500+i): remote for ``remote``, else local + end."""
    lines = []
    for i in range(1, n + 1):
        lines.append(f"@400000006 info msg {500 + i}: bytes 300 from <a@b> qp {1000 + i} uid 64011")
        where = "remote relaytest@relaytest.invalid" if i in remote else "local alias-postmaster"
        lines.append(f"@400000006 starting delivery {i}: msg {500 + i} to {where}")
        if i not in remote:
            lines.append(f"@400000006 end msg {500 + i}")
    return "\n".join(lines) + "\n"


def proven(result: HostResult) -> set[Verdict]:
    """The verdicts of the cases that got DATA (RCPT accepted, reserved-TLD recipient)."""
    return {case.verdict for case in result.cases
            if case.case.confirmable and case.rcpt_reply is not None and case.rcpt_reply.positive}


def queue_probe(server: FakeSmtp, proof: QueueProof, shell: Shell, wait: float = 2.0) -> HostResult:
    options = ProbeOptions(session=FAST, deadline=30, confirm_wait=wait, queue=QueueCheck(proof, shell))
    return asyncio.run(probe_host(Endpoint(server.host, server.port), options))


def qmail_server() -> FakeSmtp:
    return FakeSmtp(rcpt=open_rcpt, end_of_data=lambda n: f"250 ok 1733086000 qp {1000 + n}")


@pytest.mark.parametrize(("mta", "reply", "queue_id"), [
    ("postfix", Reply(250, ("2.0.0 Ok: queued as 4QxYz12AbC",)), "4QxYz12AbC"),
    ("sendmail", Reply(250, ("2.0.0 5B1LX0ab012345 Message accepted for delivery",)), "5B1LX0ab012345"),
    ("qmail", Reply(250, ("ok 1733086000 qp 4242",)), "4242"),
    ("postfix", Reply(554, ("5.7.1 queued as NOTHING",)), None),
])
def test_queue_id(mta: str, reply: Reply, queue_id: str | None) -> None:
    assert proof_for(mta).queue_id(reply) == queue_id


def test_qmail_accept_then_local_delivery_is_not_relayed_and_the_host_closed(serve: Serve, tmp_path: Path) -> None:
    shell, _ = fake_host(tmp_path, qmail_log(40, remote=set()))
    result = queue_probe(serve(qmail_server()), proof_for("qmail"), shell)
    assert proven(result) == {Verdict.NOT_RELAYED}
    assert result.status is HostStatus.SUSPECT  # the two IP-literal cases get no DATA, so stay unproven
    assert {case.verdict for case in result.cases if not case.case.confirmable} == {Verdict.ACCEPTED}
    assert result.proof == "queue"


def test_qmail_remote_delivery_is_relayed_and_the_host_open(serve: Serve, tmp_path: Path) -> None:
    shell, _ = fake_host(tmp_path, qmail_log(40, remote={1}))
    result = queue_probe(serve(qmail_server()), proof_for("qmail"), shell)
    by_id = {case.case.id: case for case in result.cases}
    assert by_id[QMAIL_RELAYED].verdict is Verdict.RELAYED and "to remote" in by_id[QMAIL_RELAYED].detail
    assert result.status is HostStatus.OPEN


def test_postfix_log_decides_and_the_probes_messages_are_removed(tmp_path: Path) -> None:
    log = ("Dec  1 21:00:00 mx postfix/smtp[10]: AAA111: to=<relaytest@relaytest.invalid>, relay=none, "
           "delay=0.1, status=deferred (Host or domain name not found)\n"
           "Dec  1 21:00:00 mx postfix/local[11]: BBB222: to=<postmaster@mx.example.test>, relay=local, "
           "delay=0.1, status=sent (delivered to mailbox)\n"
           "Dec  1 21:00:00 mx postfix/local[11]: CCC333: to=<x@mx.example.test>, relay=local, status=deferred\n")
    shell, calls = fake_host(tmp_path, log)
    decided = asyncio.run(proof_for("postfix").decide(shell, ["AAA111", "BBB222", "CCC333"]))
    assert decided["AAA111"][0] is Verdict.RELAYED and decided["BBB222"][0] is Verdict.NOT_RELAYED
    assert "CCC333" not in decided  # a deferred local delivery is not final yet
    asyncio.run(proof_for("postfix").remove(shell, ["AAA111"]))
    assert "postsuper -d AAA111" in calls.read_text()


def test_sendmail_log_decides(tmp_path: Path) -> None:
    log = ("Dec  1 mx sm-mta[5]: 5B1AAA: to=<r@relaytest.invalid>, delay=00:00:01, mailer=esmtp, stat=Deferred\n"
           "Dec  1 mx sm-mta[5]: 5B1BBB: to=<postmaster@mx>, delay=00:00:01, mailer=local, stat=Sent\n")
    shell, calls = fake_host(tmp_path, log)
    decided = asyncio.run(proof_for("sendmail").decide(shell, ["5B1AAA", "5B1BBB"]))
    assert decided["5B1AAA"][0] is Verdict.RELAYED and decided["5B1BBB"][0] is Verdict.NOT_RELAYED
    asyncio.run(proof_for("sendmail").remove(shell, ["5B1AAA"]))
    assert "-name ?f5B1AAA" in calls.read_text()


def test_sendmail_logs_an_unbracketed_recipient_as_given(tmp_path: Path) -> None:
    """Seen on the lab's opened Sendmail: ``RCPT TO:relaytest@relaytest.invalid`` is logged without <>."""
    log = ("Dec  1 mx sm-mta[9]: 6B1Naxro000257: to=relaytest@relaytest.invalid, delay=00:00:00, "
           "xdelay=00:00:00, mailer=esmtp, pri=30313, relay=relaytest.invalid. [192.0.2.53], dsn=2.0.0, stat=Sent\n")
    shell, _ = fake_host(tmp_path, log)
    decided = asyncio.run(proof_for("sendmail").decide(shell, ["6B1Naxro000257"]))
    assert decided["6B1Naxro000257"][0] is Verdict.RELAYED
    assert "to=<relaytest@relaytest.invalid>" in decided["6B1Naxro000257"][1]


def test_slow_queue_stays_accepted_and_suspect(serve: Serve, tmp_path: Path) -> None:
    shell, _ = fake_host(tmp_path, "")  # nothing logged within the wait
    result = queue_probe(serve(qmail_server()), proof_for("qmail"), shell, wait=0.6)
    confirmable = [case for case in result.cases if case.case.confirmable and case.rcpt_reply]
    assert proven(result) == {Verdict.ACCEPTED}
    assert all("no delivery decided within 0.6 s" in case.detail for case in confirmable)
    assert result.status is HostStatus.SUSPECT and any("--proof queue" in w for w in result.warnings)


def test_five_hundred_at_the_end_of_data_is_refused(serve: Serve, tmp_path: Path) -> None:
    shell, _ = fake_host(tmp_path, "")
    server = FakeSmtp(rcpt=open_rcpt, end_of_data=lambda n: "554 5.7.1 Relay access denied")
    result = queue_probe(server := serve(server), proof_for("postfix"), shell, wait=0.2)
    assert proven(result) == {Verdict.REFUSED}
    assert server.messages


def test_greylisting_at_data_is_deferred_never_a_pass(serve: Serve, tmp_path: Path) -> None:
    shell, _ = fake_host(tmp_path, "")
    server = serve(FakeSmtp(rcpt=open_rcpt, data="451 4.7.1 Greylisted, come back later"))
    result = queue_probe(server, proof_for("postfix"), shell, wait=0.2)
    assert proven(result) == {Verdict.DEFERRED}
    assert server.messages == []


@pytest.mark.parametrize(("args", "message"), [
    (["--proof", "queue", "127.0.0.1:25"], "needs --mta"),
    (["--queue-via", "ssh root@mx1", "127.0.0.1:25"], "goes with --proof queue"),
    (["--proof", "queue", "--mta", "exchange", "127.0.0.1:25"],
     "needs --mta (exim, opensmtpd, postfix, qmail, sendmail)"),
    (["--proof", "queue", "--mta", "postfix", "192.0.2.99:25"], "not an address of this machine"),
    (["--proof", "queue", "--mta", "postfix", "127.0.0.1:25", "127.0.0.2:25"], "exactly one"),
    (["--proof", "queue", "--mta", "postfix", "--external-domain", "gmail.com", "127.0.0.1:25"], "reserved"),
    (["--canary-domain", "canary.example.org", "127.0.0.1:25"], "needs --confirm"),
])
def test_proof_usage_errors_exit_2(args: list[str], message: str) -> None:
    result = CliRunner().invoke(probe, args)
    assert result.exit_code == 2 and message in result.output, result.output


def test_queue_proof_through_the_cli_on_this_machine(serve: Serve, tmp_path: Path) -> None:
    """127.0.0.1 is this machine's own address, so no --queue-via is needed; here it is given to read the
    fake log, and the JSON carries the proof and the new verdicts."""
    shell, _ = fake_host(tmp_path, qmail_log(40, remote=set()))
    server = serve(qmail_server())
    junit = tmp_path / "probe.xml"
    result = CliRunner().invoke(probe, ["--proof", "queue", "--mta", "qmail", "--queue-via",
                                        " ".join(f"'{part}'" for part in shell.prefix), "--confirm-wait", "2",
                                        "--format", "json", "--junit", str(junit), server.target])
    assert '"proof": "queue"' in result.output and '"not-relayed"' in result.output, result.output
    assert result.exit_code == 1  # suspect: the IP-literal cases stay unproven
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties["proof"] == "queue" and properties["status"] == "suspect"
    failures = {f.get("type") for f in suite.iter("failure")}
    assert failures == {"accepted"}  # not-relayed cases pass; only the two unproven IP literals fail


def test_greylisting_at_the_end_of_data_is_deferred_never_a_pass(serve: Serve, tmp_path: Path) -> None:
    shell, _ = fake_host(tmp_path, qmail_log(40, remote=set()))  # the log would say local: it must not matter
    server = serve(FakeSmtp(rcpt=open_rcpt, end_of_data=lambda n: "451 4.7.1 Greylisted, try again later"))
    result = queue_probe(server, proof_for("qmail"), shell, wait=0.2)
    assert proven(result) == {Verdict.DEFERRED}
    assert server.messages and result.status is not HostStatus.CLOSED


def test_queue_tool_that_hangs_leaves_the_cases_accepted(serve: Serve, tmp_path: Path) -> None:
    """A slow queue: the host's tool does not answer in time; the cases stay accepted, the host suspect."""
    hang = Shell(("sh", "-c", "sleep 7.31; true", "via"), timeout=0.3)  # sleep is a grandchild holding the pipe
    result = queue_probe(serve(qmail_server()), proof_for("qmail"), hang, wait=0.2)
    left = subprocess.run(["pgrep", "-f", "sleep 7.31"], capture_output=True, text=True, check=False).stdout
    assert not left, "a timeout ends the tool's whole process group"
    confirmable = [case for case in result.cases if case.case.confirmable and case.rcpt_reply]
    assert proven(result) == {Verdict.ACCEPTED}
    assert all("queue proof failed: " in case.detail and "no answer within 0.3 s" in case.detail
               for case in confirmable), [case.detail for case in confirmable]
    assert result.status is HostStatus.SUSPECT


def test_a_queue_that_decides_only_some_messages_in_time_is_never_closed(serve: Serve, tmp_path: Path) -> None:
    shell, _ = fake_host(tmp_path, qmail_log(3, remote=set()))  # only the first three messages are logged
    server = serve(FakeSmtp(rcpt=lambda path: "250 ok" if "%" in path or "!" in path or '"' in path
                            else "553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)",
                            end_of_data=lambda n: f"250 ok 1733086000 qp {1000 + n}"))
    result = queue_probe(server, proof_for("qmail"), shell, wait=0.6)
    found = proven(result)
    assert found == {Verdict.NOT_RELAYED, Verdict.ACCEPTED}, found
    assert result.status is HostStatus.SUSPECT


def test_queue_and_canary_together(serve: Serve, tmp_path: Path) -> None:
    """The queue proof decides what it can; the canary's silence is added to a not-relayed case, never
    turned into proof of its own."""
    from mtaharden.probe import Canary

    shell, _ = fake_host(tmp_path, qmail_log(40, remote=set()))
    server = serve(qmail_server())

    async def go() -> HostResult:
        async with Canary("127.0.0.1", 0) as canary:
            options = ProbeOptions(session=FAST, deadline=30, confirm_wait=0.3,
                                   queue=QueueCheck(proof_for("qmail"), shell))
            return await probe_host(Endpoint(server.host, server.port), options, canary=canary)

    result = asyncio.run(go())
    assert result.proof == "queue+canary" and proven(result) == {Verdict.NOT_RELAYED}
    decided = [case for case in result.cases if case.verdict is Verdict.NOT_RELAYED]
    assert all("locally only; the canary received nothing within 0.3 s" in case.detail for case in decided)


def test_qmail_message_numbers_are_reused_and_each_line_belongs_to_the_newest_holder(tmp_path: Path) -> None:
    """Seen on the lab's opened qmail: msg numbers are inode numbers, reused at once by the next message.
    The first message went remote; the next probe message and a bounce took its number and stayed local."""
    log = "\n".join([
        "@4000 new msg 60", "@4000 info msg 60: bytes 300 from <> qp 76 uid 994",
        "@4000 starting delivery 1: msg 60 to remote relaytest@relaytest.invalid", "@4000 end msg 60",
        "@4000 new msg 60", "@4000 info msg 60: bytes 300 from <a@b> qp 77 uid 994",
        "@4000 starting delivery 2: msg 60 to local alias-postmaster", "@4000 end msg 60",
        "@4000 new msg 60", "@4000 info msg 60: bytes 900 from <> qp 80 uid 993",  # a bounce, not the probe's
        "@4000 starting delivery 3: msg 60 to remote a@elsewhere.invalid", "@4000 end msg 60",
        "@4000 new msg 61", "@4000 info msg 61: bytes 300 from <a@b> qp 78 uid 994",  # still queued
    ]) + "\n"
    shell, _ = fake_host(tmp_path, log)
    decided = asyncio.run(proof_for("qmail").decide(shell, ["76", "77", "78"]))
    assert {qp: verdict for qp, (verdict, _) in decided.items()} == {"76": Verdict.RELAYED, "77": Verdict.NOT_RELAYED}


def test_sendmail_attempts_that_cannot_leave_are_not_relayed(tmp_path: Path) -> None:
    """Seen on the lab's opened Sendmail: esmtp towards its own address ("loops back to me", 5.3.5) and
    towards the no-host 'relaytest.invalid@.' of a trailing @ bounce; only a real next hop is a relay."""
    log = ("Dec  1 mx sm-mta[9]: AAA1: to=<relaytest%relaytest.invalid@[192.0.2.25]>, mailer=esmtp, "
           "relay=[192.0.2.25], dsn=5.3.5, stat=Local configuration error\n"
           "Dec  1 mx sm-mta[9]: AAA2: to=<relaytest@relaytest.invalid@>, mailer=esmtp, relay=relaytest.invalid@., "
           "dsn=5.1.2, stat=Host unknown (Name server: relaytest.invalid@: host not found)\n"
           "Dec  1 mx sm-mta[9]: AAA3: to=<relaytest@relaytest.invalid>, mailer=esmtp, relay=relaytest.invalid., "
           "dsn=5.1.2, stat=Host unknown (Name server: relaytest.invalid: host not found)\n")
    shell, _ = fake_host(tmp_path, log)
    decided = asyncio.run(proof_for("sendmail").decide(shell, ["AAA1", "AAA2", "AAA3"]))
    assert {queue_id: verdict for queue_id, (verdict, _) in decided.items()} == {
        "AAA1": Verdict.NOT_RELAYED, "AAA2": Verdict.NOT_RELAYED, "AAA3": Verdict.RELAYED}


def test_qmail_remote_address_without_a_host_is_not_relayed(tmp_path: Path) -> None:
    log = ("@4000 info msg 70: bytes 300 from <a@b> qp 90 uid 994\n"
           "@4000 starting delivery 1: msg 70 to remote relaytest@relaytest.invalid@\n@4000 end msg 70\n")
    shell, _ = fake_host(tmp_path, log)
    verdict, why = asyncio.run(proof_for("qmail").decide(shell, ["90"]))["90"]
    assert verdict is Verdict.NOT_RELAYED and "no host after the last @" in why


def test_qmail_log_command_reads_multilogs_rotated_files_first(tmp_path: Path) -> None:
    """multilog rotates current at 99999 bytes (a few probe runs in the lab): the rotated @….s files are
    read too, oldest first, then current. Run here on a copy of the layout (the path swapped for tmp_path)."""
    from mtaharden.probe.proof.qmail import LOG_COMMAND

    (tmp_path / "@400000006b0f5d1e00000000.s").write_text("first\n")
    (tmp_path / "@400000006b0f5d2f00000000.s").write_text("second\n")
    (tmp_path / "current").write_text("third\n")
    argv = [*LOG_COMMAND[:2], LOG_COMMAND[2].replace("/var/log/qmail", str(tmp_path))]
    assert asyncio.run(Shell().run(argv)).split() == ["first", "second", "third"]
