"""One behaviour suite for every stock host kind: the same policy must mean the same thing on each.

Relaying is proven by the sink (what left the host), not by reply codes alone. Where a target cannot
keep a check, the test reads the target's rendered COVERAGE.md: a failing check whose policy element
is declared there as not enforced is reported as xfail with that declaration's text; a check on an
element the target declares enforced must pass. Nothing is skipped by a hard-coded list.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import sys
import time
import uuid
from collections.abc import Iterator

import pytest

from mtaharden.probe.cases import CASES, Case, Placeholders
from mtaharden.software_names import SOFTWARE_NAMES
from tests.lab.conftest import Stock
from tests.lab.coverage import coverage_rows
from tests.lab.network import BLOCKED, DNSBL_ZONE, EXEMPT, LISTED_OUTSIDE, REJECTED, TRUSTED, UNTRUSTED
from tests.lab.policy import (
    HOSTNAME,
    LOCAL_RECIPIENT,
    MAX_MESSAGE_SIZE,
    MAX_RECIPIENTS,
    MESSAGES,
    PASSWORD,
    REALM,
    USER,
)
from tests.lab.smtp import Conversation, Session, body, talk

FOREIGN = "foreign.test"
SETTLE_SECONDS = 60.0


# --- helpers ----------------------------------------------------------------------------------


def declared(stock: Stock, *elements: str) -> list[str]:
    """The COVERAGE.md rows of ``elements`` (or their sub-elements) that are not ``enforced``."""
    return [f"{element} {status}: {detail}" for element, (status, detail) in coverage_rows(stock.rendered).items()
            if status != "enforced" and any(_covers(e, element) for e in elements)]


def _covers(element: str, row: str) -> bool:
    return row == element or row.startswith((element + ".", element + "["))


@contextlib.contextmanager
def unless_declared(stock: Stock, *elements: str) -> Iterator[None]:
    """Run a check; if it fails and COVERAGE.md declares one of ``elements`` not enforced, xfail with it."""
    try:
        yield
    except AssertionError:
        rows = declared(stock, *elements)
        if rows:
            pytest.xfail(f"{stock.kind.name} COVERAGE.md: " + " | ".join(rows))
        raise


def session(stock: Stock, source: str, commands: list[str | dict[str, str]], *, starttls: bool = False) -> Session:
    return Session(stock.host.address, source, commands, starttls=starttls)


def one(stock: Stock, source: str, commands: list[str | dict[str, str]], *, starttls: bool = False) -> Conversation:
    return talk(stock.net, [session(stock, source, commands, starttls=starttls)])[0]


def rcpt(stock: Stock, source: str, recipient: str, *, sender: str = "probe@client.test",
         helo: str = "client.test") -> tuple[int, str]:
    return one(stock, source, [f"EHLO {helo}", f"MAIL FROM:<{sender}>", f"RCPT TO:<{recipient}>"]).last


def message(token: str, subject: str = "lab message", size: int = 0) -> dict[str, str]:
    padding = "\n".join("x" * 76 for _ in range(size // 77 + 1)) if size else ""
    return body(f"From: probe@client.test\nSubject: {subject}\nMessage-ID: <{token}@client.test>\n\n{token}\n"
                f"{padding}")


def settle(stock: Stock) -> None:
    """Wait (bounded) until the host's queue is empty, so what will leave it has left."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while not stock.kind.queue_empty(stock.host):
        if time.monotonic() > deadline:
            raise AssertionError(f"{stock.kind.name} queue did not settle in {SETTLE_SECONDS} s:\n"
                                 f"{stock.kind.log_text(stock.host)[-3000:]}")
        time.sleep(0.5)


def arrived(stock: Stock, token: str, *, wait: float = 30.0) -> list[dict[str, object]]:
    """The sink's messages holding ``token``, waiting (bounded) for the first one."""
    deadline = time.monotonic() + wait
    while True:
        found = [m for m in stock.net.sink_messages() if token in str(m["data"])]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def new_token(label: str) -> str:
    return f"lab-{label}-{uuid.uuid4().hex[:12]}"


def auth_plain(password: str = PASSWORD) -> str:
    return "AUTH PLAIN " + base64.b64encode(f"\0{USER}@{REALM}\0{password}".encode()).decode()


# --- relaying ---------------------------------------------------------------------------------


def relay_sessions(stock: Stock, cases: tuple[Case, ...], tokens: dict[str, str] | None) -> list[Session]:
    values = Placeholders(foreign=FOREIGN, ip=stock.host.address, srv=HOSTNAME, domain="example.test")
    sessions = []
    for case in cases:
        mail, recipient = case.commands(values)
        commands: list[str | dict[str, str]] = ["EHLO client.test", mail, recipient]
        if tokens is not None:
            commands += ["DATA", message(tokens[case.id])]
        sessions.append(session(stock, UNTRUSTED, commands))
    return sessions


@pytest.fixture(scope="module")
def relay_attempts(stock: Stock) -> dict[str, tuple[tuple[int, str], str]]:
    """Every relay form from UNTRUSTED; DATA with a unique token for each form whose RCPT was accepted.
    Case id -> (RCPT reply, token or '')."""
    control = new_token("control")  # a relay that must arrive: without it, "nothing arrived" proves nothing
    talk(stock.net, [session(stock, TRUSTED, ["EHLO client.test", "MAIL FROM:<a@example.test>",
                                              f"RCPT TO:<control@{FOREIGN}>", "DATA", message(control)])])
    first = talk(stock.net, relay_sessions(stock, CASES, None))
    rcpts = {case.id: talk_result.last for case, talk_result in zip(CASES, first, strict=True)}
    accepted = tuple(case for case in CASES if 200 <= rcpts[case.id][0] < 300)
    tokens = {case.id: new_token(case.id) for case in accepted}
    if accepted:
        talk(stock.net, relay_sessions(stock, accepted, tokens))
    settle(stock)
    assert arrived(stock, control), "the trusted control message never reached the sink"
    return {case.id: (rcpts[case.id], tokens.get(case.id, "")) for case in CASES}


def test_untrusted_relay_forms_relay_nothing(stock: Stock, relay_attempts: dict[str, tuple[tuple[int, str], str]]
                                              ) -> None:
    """Every form of the relay matrix: refused, or accepted and kept local; the sink got none of them."""
    tokens = {token: case for case, (_, token) in relay_attempts.items() if token}
    relayed = [(tokens[t], m["rcpt_tos"]) for m in stock.net.sink_messages() if m["mail_from"]
               for t in tokens if t in str(m["data"])]
    assert relayed == [], relayed


def test_untrusted_relay_forms_are_refused_at_rcpt(stock: Stock,
                                                    relay_attempts: dict[str, tuple[tuple[int, str], str]]) -> None:
    accepted = {case: reply for case, (reply, _) in relay_attempts.items() if reply[0] < 400}
    with unless_declared(stock, "domains.local", "smtp.strict_envelopes"):
        assert accepted == {}


def test_accepted_relay_forms_cause_no_backscatter(stock: Stock,
                                                   relay_attempts: dict[str, tuple[tuple[int, str], str]]) -> None:
    """A form accepted and then bounced sends the bounce to the forged foreign sender: backscatter."""
    tokens = [token for _, token in relay_attempts.values() if token]
    bounces = [m["rcpt_tos"] for m in stock.net.sink_messages() if not m["mail_from"]
               and any(t in str(m["data"]) for t in tokens)]
    with unless_declared(stock, "domains.local"):
        assert bounces == []


def test_trusted_client_relays_to_the_sink(stock: Stock) -> None:
    token = new_token("trusted")
    talked = one(stock, TRUSTED, ["EHLO client.test", "MAIL FROM:<a@example.test>", f"RCPT TO:<x@{FOREIGN}>",
                                  "DATA", message(token)])
    assert [code for code, _ in talked.replies] == [250, 250, 250, 354, 250], talked.replies
    received = arrived(stock, token)
    assert len(received) == 1 and received[0]["rcpt_tos"] == [f"x@{FOREIGN}"]


def test_authenticated_client_relays_to_the_sink_and_a_wrong_password_does_not(stock: Stock) -> None:
    token = new_token("auth")
    with unless_declared(stock, "auth"):
        good = one(stock, UNTRUSTED, ["EHLO client.test", auth_plain(), "MAIL FROM:<alice@example.test>",
                                      f"RCPT TO:<y@{FOREIGN}>", "DATA", message(token)], starttls=True)
        codes = [code for code, _ in good.replies]
        assert codes[1] == 220 and codes[3:] == [235, 250, 250, 354, 250], good.replies
        assert len(arrived(stock, token)) == 1
        bad = one(stock, UNTRUSTED, ["EHLO client.test", auth_plain("wrong"), "MAIL FROM:<alice@example.test>",
                                     f"RCPT TO:<y@{FOREIGN}>"], starttls=True)
        assert bad.replies[3][0] == 535 and bad.last[0] >= 500, bad.replies


def test_auth_is_offered_only_after_starttls(stock: Stock) -> None:
    with unless_declared(stock, "auth", "tls"):
        plain = one(stock, UNTRUSTED, ["EHLO client.test", auth_plain()])
        assert plain.replies[0][0] == 250 and "STARTTLS" in plain.replies[0][1]
        assert "AUTH" not in plain.replies[0][1]
        assert plain.last[0] >= 500
        tls = one(stock, UNTRUSTED, ["EHLO client.test"], starttls=True)
        assert tls.replies[1][0] == 220 and "AUTH" in tls.last[1] and "PLAIN" in tls.last[1]


def test_local_and_relay_domains_are_accepted_and_the_relay_domain_is_forwarded(stock: Stock) -> None:
    assert rcpt(stock, UNTRUSTED, LOCAL_RECIPIENT)[0] == 250
    token = new_token("relay-domain")
    talked = one(stock, UNTRUSTED, ["EHLO client.test", "MAIL FROM:<a@client.test>",
                                    "RCPT TO:<someone@relay.example.test>", "DATA", message(token)])
    assert [code for code, _ in talked.replies] == [250, 250, 250, 354, 250], talked.replies
    received = arrived(stock, token)
    assert len(received) == 1 and received[0]["rcpt_tos"] == ["someone@relay.example.test"]


# --- what the host tells ----------------------------------------------------------------------


_STATUS = re.compile(r"\b[245]\.\d{1,3}\.\d{1,3}\b")  # enhanced status codes: 5.7.1, qmail's (#5.7.1)
_ADDRESS = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}|[0-9a-f]*:[0-9a-f:]+")
_VERSION = re.compile(r"\d+\.\d+")


def leaks(text: str) -> list[str]:
    """Software names and version-like numbers in a reply (status codes and IP addresses are neither)."""
    found = []
    for line in text.splitlines():
        rest = _ADDRESS.sub("", _STATUS.sub("", line))
        found += [n for n in SOFTWARE_NAMES if n in rest.lower()]
        found += _VERSION.findall(rest)
    return found


def test_banner_and_every_reply_name_no_software_and_no_version(stock: Stock) -> None:
    sessions = [
        session(stock, UNTRUSTED, ["EHLO client.test", "HELP", "HELP RCPT", "NOOP", "FROBNICATE", "VRFY root",
                                   "EXPN root", "MAIL FROM:<a@client.test>", f"RCPT TO:<x@{FOREIGN}>",
                                   "RCPT TO:<closed@example.test>", "DATA", "RSET", "MAIL FROM:<bad", "QUIT"]),
        session(stock, UNTRUSTED, ["HELO client.test", "MAIL FROM:<x@spam.example>", f"RCPT TO:<{LOCAL_RECIPIENT}>"]),
        session(stock, REJECTED, ["EHLO client.test", "MAIL FROM:<a@client.test>", f"RCPT TO:<{LOCAL_RECIPIENT}>"]),
        session(stock, BLOCKED, ["EHLO client.test", "MAIL FROM:<a@client.test>", f"RCPT TO:<{LOCAL_RECIPIENT}>"]),
        session(stock, UNTRUSTED, ["EHLO client.test", "HELP"], starttls=True),
    ]
    replies = []
    for conversation in talk(stock.net, sessions):
        replies += [conversation.banner, *conversation.replies]
    found = {text: leaks(text) for _, text in replies if leaks(text)}
    with unless_declared(stock, "smtp.banner"):
        assert replies[0] == (220, f"{HOSTNAME} ESMTP")
        assert found == {}


def test_vrfy_and_expn_reveal_nothing(stock: Stock) -> None:
    replies = one(stock, UNTRUSTED, ["EHLO client.test", "VRFY root", "EXPN root", "VRFY postmaster"]).replies
    vrfy, expn, vrfy_alias = replies[1], replies[2], replies[3]
    assert vrfy[0] == 252 or vrfy[0] >= 500, vrfy
    assert vrfy_alias[0] == 252 or vrfy_alias[0] >= 500, vrfy_alias
    assert expn[0] >= 500, expn
    assert not any("@" in text for _, text in (vrfy, expn, vrfy_alias)), replies  # no mailbox revealed


# --- access rules, first match ----------------------------------------------------------------


def test_an_explicit_client_reject_beats_a_recipient_permit(stock: Stock) -> None:
    """REJECTED is refused even for postmaster@, which the recipients' rules permit."""
    code, text = rcpt(stock, REJECTED, LOCAL_RECIPIENT)
    with unless_declared(stock, "access.clients", "access.recipients"):
        assert code >= 500 and MESSAGES["client"] in text, (code, text)


def test_client_rules_first_match(stock: Stock) -> None:
    """EXEMPT lies inside the rejected /31 but the permit before it matches first: accepted, not relayed."""
    with unless_declared(stock, "access.clients"):
        assert rcpt(stock, EXEMPT, "root@example.test")[0] == 250
    assert rcpt(stock, EXEMPT, f"x@{FOREIGN}")[0] >= 500


def test_helo_rule(stock: Stock) -> None:
    with unless_declared(stock, "access.helo"):
        code, text = rcpt(stock, UNTRUSTED, LOCAL_RECIPIENT.replace("postmaster", "root"), helo="bad.helo.test")
        assert code >= 500 and MESSAGES["helo"] in text, (code, text)
    assert rcpt(stock, UNTRUSTED, LOCAL_RECIPIENT, helo="good.helo.test")[0] == 250


def test_sender_rules_first_match(stock: Stock) -> None:
    """friend@spam.example is permitted by the first rule, anyone else at spam.example refused by the second."""
    recipient = "root@example.test"
    with unless_declared(stock, "access.senders"):
        code, text = rcpt(stock, UNTRUSTED, recipient, sender="other@spam.example")
        assert code >= 500 and MESSAGES["sender"] in text, (code, text)
        assert rcpt(stock, UNTRUSTED, recipient, sender="friend@spam.example")[0] == 250


def test_recipient_rules(stock: Stock) -> None:
    with unless_declared(stock, "access.recipients"):
        code, text = rcpt(stock, UNTRUSTED, "closed@example.test")
        assert code >= 500 and MESSAGES["recipient"] in text, (code, text)
    assert rcpt(stock, UNTRUSTED, LOCAL_RECIPIENT)[0] == 250


@pytest.mark.parametrize(("subject", "refused"), [("MAKE MONEY FAST today", True), ("lunch at noon", False)])
def test_header_check_rejects_at_end_of_data(stock: Stock, subject: str, refused: bool) -> None:
    talked = one(stock, UNTRUSTED, ["EHLO client.test", "MAIL FROM:<a@client.test>", f"RCPT TO:<{LOCAL_RECIPIENT}>",
                                    "DATA", message(new_token("header"), subject)])
    assert talked.replies[3][0] == 354, talked.replies
    code, text = talked.last
    with unless_declared(stock, "header_checks"):
        assert (code >= 500 and MESSAGES["header"] in text) if refused else code == 250, (code, text)


def test_dnsbl_with_its_return_code_filter(stock: Stock) -> None:
    """BLOCKED answers 127.0.0.2 (inside the filter): refused with the policy's message;
    LISTED_OUTSIDE answers 127.0.0.9 (outside it): accepted."""
    with unless_declared(stock, "dnsbl"):
        code, text = rcpt(stock, BLOCKED, "root@example.test")
        assert code >= 500, (code, text)
        assert MESSAGES["dnsbl"].format(client=BLOCKED, zone=DNSBL_ZONE) in text, text
        assert rcpt(stock, LISTED_OUTSIDE, "root@example.test")[0] == 250


# --- limits -----------------------------------------------------------------------------------


def test_message_over_the_size_limit_is_refused(stock: Stock) -> None:
    token = new_token("size")
    talked = one(stock, UNTRUSTED, ["EHLO client.test", "MAIL FROM:<a@client.test>",
                                    "RCPT TO:<big@relay.example.test>", "DATA",
                                    message(token, size=MAX_MESSAGE_SIZE + 20_000)])
    with unless_declared(stock, "smtp.max_message_size"):
        assert talked.last[0] >= 500, talked.replies
    assert arrived(stock, token, wait=3) == []
    small = new_token("small")
    fits = one(stock, UNTRUSTED, ["EHLO client.test", "MAIL FROM:<a@client.test>",
                                  "RCPT TO:<small@relay.example.test>", "DATA",
                                  message(small, size=MAX_MESSAGE_SIZE // 2)])
    assert fits.last[0] == 250, fits.replies


def test_recipient_limit(stock: Stock) -> None:
    recipients = [f"RCPT TO:<r{n}@relay.example.test>" for n in range(MAX_RECIPIENTS + 1)]
    talked = one(stock, UNTRUSTED, ["EHLO client.test", "MAIL FROM:<a@client.test>", *recipients, "RSET"])
    codes = [code for code, _ in talked.replies[2:2 + MAX_RECIPIENTS + 1]]
    assert codes[:MAX_RECIPIENTS] == [250] * MAX_RECIPIENTS, talked.replies
    with unless_declared(stock, "smtp.max_recipients"):
        assert codes[MAX_RECIPIENTS] >= 400, talked.replies


def test_the_mta_logged_no_fatal_error_or_panic(stock: Stock) -> None:
    """Runs last in this module: nothing the suite sent made the MTA log a fatal error."""
    bad = [line for line in stock.kind.log_text(stock.host).splitlines() if _FATAL.search(line)]
    assert bad == []


_FATAL = re.compile(r"\b(fatal|panic):", re.IGNORECASE)


# --- the product's own probe ------------------------------------------------------------------


def test_probe_from_the_client_namespace_finds_the_host_closed_and_the_policy_kept(stock: Stock) -> None:
    result = stock.net.client(
        [sys.executable, "-m", "mtaharden", "probe", f"{stock.host.address}:25", "--source-address", UNTRUSTED,
         "--policy", str(stock.policy_file), "--external-domain", FOREIGN, "--format", "json", "--timeout", "10"],
        check=False, timeout=240)
    report = json.loads(result.stdout)
    host = report["hosts"][0]
    verdicts = {case["id"]: case["verdict"] for case in host["cases"]}
    assert set(verdicts) == {case.id for case in CASES}
    with unless_declared(stock, "domains.local", "smtp.strict_envelopes"):
        assert set(verdicts.values()) <= {"refused", "not-tested"}, verdicts
        assert {check["status"] for check in host["checks"]} == {"ok"}, host["checks"]
        assert result.returncode == 0, result.stdout + result.stderr
