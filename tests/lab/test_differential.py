"""The differential suite: generated policies and transactions, every lab MTA against the reference evaluator.

For each host kind, hypothesis draws a few policies over the lab's own client addresses (IPv4 and IPv6),
so both sides of each rule meet a real client: trusted networks, client/HELO/sender/recipient rules
inline and in list files, local and relay domains (exact and ``.domain``), a DNSBL, AUTH and TLS
(``auth.require_tls``, ``tls.inbound``), ``header_checks`` (ASCII and non-ASCII), the size and recipient
limits, the HELO and envelope strictness, the role and its submission ports; and many transactions per
policy on ports 25, 587 and 465, from a seed hypothesis draws (STARTTLS, implicit TLS on 465, AUTH PLAIN,
no or an invalid HELO, null and unqualified senders, ``SIZE=``, a message 2 KiB under or over the size
limit, header lines raw or RFC 2047 encoded). Each policy is rendered
with the CLI and deployed on one running host (reused across policies); the transactions are replayed
over SMTP from the client namespace and the reply class at each stage is compared with
:func:`mtaharden.policy.evaluate.evaluate`.

The comparison (README, "What the policy means, stage by stage"): the contract decides access per
recipient at RCPT. A host may refuse earlier (a 4xx/5xx greeting, EHLO or MAIL reply, or a connection it
closes, which counts as 4xx: a client retries after it) when the contract refuses every recipient of the
transaction (or, with none, the MAIL) with that class; then the later stages are not compared. A host that
takes MAIL where the contract refuses it must refuse every RCPT with that class. A refused connection
(nothing listens) matches only the contract's refusal of a port the role does not open, as does a 5xx greeting.
Otherwise each RCPT reply class must be the evaluator's, the AUTH reply must be 2xx exactly when the
evaluator counts the client as authenticated, and the reply at end of DATA must have the class of the
evaluator's DATA decision. A divergence is *declared* only when a not-enforced row of the target's
COVERAGE.md names the element that decided (or one the divergence concerns) and the row's own condition
holds for the transaction: :data:`CONDITIONS` writes each approximated row's condition as a check (an
unsupported row holds whenever its element is concerned; a refused connection only by a listener row,
e.g. qmail's IPv4-only rows for an IPv6 client); any other divergence fails, so "enforced" means this
suite found none.
Every divergence found is kept below as an explicit case; one a target must fix is marked
``xfail(strict=True)`` for that kind.

CI draws ``MTAHARDEN_DIFF_EXAMPLES`` policies per kind (default 2) with 24 transactions each, and runs
the explicit scenarios and regression cases.
"""

from __future__ import annotations

import base64
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from ipaddress import ip_address
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from mtaharden.policy import Policy, PolicyError, load_policy
from mtaharden.policy.evaluate import Decision, address_covers, authenticated, domain_matches, evaluate
from mtaharden.policy.transaction import MX_PORT, Transaction, split_address
from mtaharden.policy.types import PolicyValueError, helo_name
from mtaharden.targets.base import registered
from tests.lab.conftest import LAB_TOOLS
from tests.lab.coverage import coverage_rows
from tests.lab.host import LabHost
from tests.lab.kind import HostKind, registered_kinds
from tests.lab.network import (
    BLOCKED,
    DNSBL_LISTINGS,
    DNSBL_ZONE,
    EXEMPT,
    LISTED_OUTSIDE,
    PREFIX6,
    REJECTED,
    REPO,
    TRUSTED,
    UNTRUSTED,
    LabNet,
)
from tests.lab.policy import CERT, KEY, PASSWORD, REALM, SASLDB, USER, prepare_auth
from tests.lab.roots import need_lab
from tests.lab.smtp import DISCONNECTED, NO_LISTENER, Conversation, Session, talk

EXAMPLES = int(os.environ.get("MTAHARDEN_DIFF_EXAMPLES", "2"))
TRANSACTIONS = 24
REDEPLOY_SETTLE = {"qmail": 2.0}  # seconds per kind; supervise restarts a service at most once a second
HOSTNAME = "mx.example.test"
PRE_TLS_HELO = "client.test"  # the EHLO name tests.lab.smtp gives before STARTTLS


def v6(address: str) -> str:
    """The client's IPv6 address on the lab bridge (same last number as its IPv4 one)."""
    return f"{PREFIX6}{address.rsplit('.', 1)[1]}"


TRUSTED6, UNTRUSTED6, BLOCKED6 = v6(TRUSTED), v6(UNTRUSTED), v6(BLOCKED)
SOURCES = (TRUSTED, UNTRUSTED, BLOCKED, LISTED_OUTSIDE, REJECTED, EXEMPT, TRUSTED6, UNTRUSTED6, BLOCKED6)
# Networks over the lab's client addresses: single hosts, pairs (.30/.31, .40/.41), wider blocks, and IPv6.
NETWORKS = ("192.0.2.10/32", "192.0.2.20/32", "192.0.2.30/32", "192.0.2.30/31", "192.0.2.40/31",
            "192.0.2.41/32", "192.0.2.16/28", "192.0.2.0/27", f"{BLOCKED6}/128", f"{PREFIX6}30/127",
            f"{PREFIX6}/120")
TRUSTED_NETWORKS = ("192.0.2.10/32", "192.0.2.16/28", "192.0.2.40/31", f"{TRUSTED6}/128")
HELOS = ("client.test", "bad.helo.test", "good.helo.test")
SENT_HELOS = (*HELOS, None, "bad_helo!")  # None: MAIL without HELO/EHLO; bad_helo!: not a host name
SENDERS = ("a@client.test", "friend@spam.example", "other@spam.example", "b@example.test", "x@sub.spam.example",
           "", "nobody")
RECIPIENTS = ("postmaster@example.test", "root@example.test", "root@local2.test", "postmaster@local2.test",
              "someone@relay.example.test", "x@gw2.test", "x@foreign.test", "root@a.sub.local2.test",
              "root@sub.local2.test", "x@a.gw2.test")
SENDER_PATTERNS = ("@spam.example", "friend@spam.example", "spam.example", "a@client.test", "postmaster@",
                   "b@example.test")
RECIPIENT_PATTERNS = ("postmaster@", "root@example.test", "@relay.example.test", "local2.test", "x@foreign.test",
                      "root@")
AUTH = {"enabled": True, "backend": "cyrus", "mechanisms": ["PLAIN", "LOGIN"],
        "cyrus": {"pwcheck_method": "auxprop", "sasldb_path": SASLDB}}
# (auth.require_tls, tls.inbound), richest first (hypothesis starts from the first choice); None: neither.
SECURITY: tuple[tuple[bool, str] | None, ...] = ((True, "may"), (False, "may"), (True, "encrypt"), None)
SIZE_LIMIT = 30_000
SUBMISSION, SMTPS = 587, 465
PORTS = (MX_PORT, MX_PORT, MX_PORT, SUBMISSION, SMTPS)  # per transaction: mostly the MX port
# Roles drawn: every role of the model but ``submission`` (the kinds' deploy waits for port 25 inside the host).
ROLES = ("mx", "mx+submission", "relay-only", "null-client")
SUBMISSION_ROLES = ("mx+submission",)
SUBMISSION_PORTS: tuple[dict[str, None], ...] = ({}, {"port": None}, {"smtps_port": None})
HEADER_CHECKS = ({"header": "Subject", "pattern": "(?i)make money"}, {"header": "Subject", "pattern": "发票"},
                 {"header": "X-Spam", "pattern": "^yes"})
# A header line as the evaluator reads it (decoded) -> as the client sends it (latin-1 code points = bytes).
HEADER_FORMS = {
    "Subject: lunch at noon": "Subject: lunch at noon",
    "Subject: MAKE MONEY FAST now": "Subject: MAKE MONEY FAST now",
    "Subject: 发票 now": "Subject: " + "发票 now".encode().decode("latin-1"),  # raw 8-bit UTF-8
    "Subject: 代开发票": "Subject: =?gb2312?B?tPq/qreixrE=?=",  # RFC 2047, GB2312 in base64
    "X-Spam: yes": "X-Spam: yes",
}
# What a kind cannot express of a generated policy is declared in its COVERAGE.md; rendering must not stop.
ALLOW_UNSUPPORTED = {"qmail": ["access.helo", "access.recipients", "access.senders", "smtp.require_helo",
                               "smtp.strict_envelopes", "smtp.max_recipients", "auth", "tls", "header_checks",
                               "auth.submission"],
                     "opensmtpd": ["auth", "tls", "header_checks", "dnsbl"]}
# What a kind refuses to render (declared with its reason; allow_unsupported would hide the whole element):
# local or relay domains, header check actions, roles (drawn as mx instead). Dropped from that kind's draws.
UNRENDERABLE: dict[str, dict[str, tuple[str, ...]]] = {
    "qmail": {"local": (".sub.local2.test",),  # control/locals matches exact names only
              "role": ("null-client",)},  # no qmail-smtpd at all: the kind's deploy waits for it
    "sendmail": {"local": (".sub.local2.test",), "relay": (".gw2.test",),  # classes w and R hold exact names
                 "header_checks": ("warn",)},  # no log-only header ruleset
}


@dataclass(frozen=True)
class Drawn:
    """A policy document and the list files beside it (file name -> text)."""

    document: dict[str, Any]
    files: dict[str, str] = field(default_factory=dict)


# --- strategies (the policy's own shapes; the model validates every draw) ----------------------


def _rules(matches: Sequence[str]) -> st.SearchStrategy[list[dict[str, Any]]]:
    rule = st.fixed_dictionaries({"match": st.sampled_from(matches),
                                  "action": st.sampled_from(["reject", "defer", "permit"])},
                                 optional={"message": st.just("Refused by rule")})
    return st.lists(rule, min_size=1, max_size=3, unique_by=lambda r: r["match"])


@st.composite
def _access_list(draw: st.DrawFn, stage: str, matches: Sequence[str], files: dict[str, str]) -> list[dict[str, Any]]:
    """Inline rules, and maybe one list-file item (entries no inline rule repeats) at a drawn place."""
    rules = draw(_rules(matches))
    taken = {rule["match"] for rule in rules}
    entries = draw(st.lists(st.sampled_from([m for m in matches if m not in taken] or ["-"]), max_size=2,
                            unique=True))
    if entries and entries != ["-"]:
        name = f"{stage}.txt"
        files[name] = "# lab list\n" + "".join(f"{entry}\n" for entry in entries)
        rules.insert(draw(st.integers(0, len(rules))),
                     {"file": name, "action": draw(st.sampled_from(["reject", "defer", "permit"]))})
    return rules


def _dnsbl() -> st.SearchStrategy[list[dict[str, Any]]]:
    entry = st.fixed_dictionaries({"zone": st.just(DNSBL_ZONE),
                                   "match": st.sampled_from([[], ["127.0.0.2"], ["127.0.0.9"]]),
                                   "action": st.sampled_from(["reject", "defer"])})
    return st.lists(entry, max_size=1)


def _subset(items: Sequence[str]) -> st.SearchStrategy[list[str]]:
    chosen = st.lists(st.sampled_from(items), min_size=1, unique=True)
    return chosen.map(lambda picked: [i for i in items if i in picked])


def security(choice: tuple[bool, str] | None) -> dict[str, Any]:
    """The ``auth`` and ``tls`` sections of a policy for one SECURITY choice (the lab's certificate and sasldb)."""
    if choice is None:
        return {}
    require_tls, inbound = choice
    return {"auth": {**AUTH, "require_tls": require_tls}, "tls": {"cert": CERT, "key": KEY, "inbound": inbound}}


@st.composite
def policy_documents(draw: st.DrawFn) -> Drawn:
    files: dict[str, str] = {}
    checks = draw(st.lists(st.sampled_from(range(len(HEADER_CHECKS))), min_size=1, max_size=2, unique=True))
    document = {
        "version": 1,
        "hostname": HOSTNAME,
        "domains": {"local": draw(_subset(("example.test", "local2.test", ".sub.local2.test"))),
                    "relay": draw(_subset(("relay.example.test", "gw2.test", ".gw2.test")))},
        "networks": {"trusted": ["127.0.0.0/8", "::1/128", *draw(_subset(TRUSTED_NETWORKS))]},
        "access": {"clients": draw(_access_list("clients", NETWORKS, files)),
                   "helo": draw(_access_list("helo", HELOS, files)),
                   "senders": draw(_access_list("senders", SENDER_PATTERNS, files)),
                   "recipients": draw(_access_list("recipients", RECIPIENT_PATTERNS, files))},
        "dnsbl": draw(_dnsbl()),
        "header_checks": [{**HEADER_CHECKS[i], "action": draw(st.sampled_from(["reject", "discard", "hold", "warn"]))}
                          for i in checks],
        "smtp": {"max_message_size": SIZE_LIMIT, "max_recipients": draw(st.sampled_from([2, 3, 100])),
                 "require_helo": draw(st.sampled_from([True, False])),
                 "strict_envelopes": draw(st.sampled_from([True, False]))},
    }
    choice = draw(st.sampled_from(SECURITY))
    role = draw(st.sampled_from([r for r in ROLES if choice is not None or r not in SUBMISSION_ROLES]))
    extra = security(choice)
    if role in SUBMISSION_ROLES:  # AUTH is there (SECURITY's choice is not None)
        extra["auth"] = {**extra["auth"], "submission": draw(st.sampled_from(SUBMISSION_PORTS))}
    return Drawn({**document, "role": role, **extra}, files)


def write(drawn: Drawn, folder: Path, targets: dict[str, Any] | None = None) -> Path:
    """The policy file (and its list files) in ``folder``; its path."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in drawn.files.items():
        (folder / name).write_text(text)
    policy_file = folder / "policy.yml"
    policy_file.write_text(json.dumps({**drawn.document, **({"targets": targets} if targets else {})}, indent=1))
    return policy_file


def _valid(drawn: Drawn) -> bool:
    with tempfile.TemporaryDirectory() as scratch:
        try:
            load_policy(write(drawn, Path(scratch)))
        except PolicyError:
            return False
    return True


def message(headers: Sequence[str], size: int) -> str:
    """A message of the decoded ``headers`` (sent in their HEADER_FORMS) and padding: exactly ``size``
    bytes as sent (CRLF line ends), or as few as the header allows. Returned with LF line ends and
    without the last one, as :class:`tests.lab.smtp.Session` wants a body."""
    head = "".join(HEADER_FORMS.get(h, h) + "\r\n" for h in headers) + "\r\n"
    rest = max(size - len(head.encode("latin-1")), 2)
    full, left = divmod(rest, 78)  # lines of 76 x + CRLF
    lines = ["x" * 76] * full
    if left == 1:
        lines[-1] += "x"
    elif left:
        lines.append("x" * (left - 2))
    return (head + "\r\n".join(lines)).replace("\r\n", "\n")


def sent_size(headers: Sequence[str], size: int) -> int:
    return len((message(headers, size).replace("\n", "\r\n") + "\r\n").encode("latin-1"))


# Message sizes: small, and SIZE_SLACK under and over SIZE_LIMIT. The targets count their stored form of a
# message, not the bytes sent (README: Postfix adds its Received: header and envelope, Sendmail and qmail
# count LF line ends): the exact boundary is compared by the explicit cases below, where they diverge.
SIZE_SLACK = 2048
SIZES = (0, SIZE_LIMIT - SIZE_SLACK, SIZE_LIMIT + SIZE_SLACK)


def _build(client: str, helo: str | None, sender: str, recipients: Sequence[str], tls: bool, auth: bool,
           headers: Sequence[str], size: int, declare: bool, port: int = MX_PORT) -> Transaction:
    """A transaction of the suite's tables; on the implicit-TLS port no STARTTLS (TLS from the first byte)."""
    lines = ("From: a@client.test", *headers)
    actual = sent_size(lines, size)
    return Transaction(ip_address(client), helo, sender, tuple(recipients), tls=tls and port != SMTPS, port=port,
                       auth=USER if auth and helo is not None else None, headers=lines, size=actual,
                       listed=MappingProxyType({DNSBL_ZONE: DNSBL_LISTINGS[client]} if client in DNSBL_LISTINGS
                                               else {}),
                       mail_size=actual if declare else None)


def transaction(rng: random.Random, source: str, sources: Sequence[str]) -> Transaction:
    """One transaction from ``source`` (or, if empty, one of ``sources``) over the suite's tables. Drawn with a
    seeded PRNG that hypothesis gives: its simplest example would be the same minimal transaction each time."""
    recipients = rng.sample(RECIPIENTS, rng.randint(1, 4))
    headers = rng.sample(sorted(HEADER_FORMS), rng.randint(0, 2))
    return _build(source or rng.choice(sources), rng.choice(SENT_HELOS), rng.choice(SENDERS), recipients,
                  rng.random() < 0.5, rng.random() < 0.5, headers, rng.choice(SIZES), rng.random() < 0.5,
                  rng.choice(PORTS))


# --- the lab side -----------------------------------------------------------------------------


@dataclass
class Lab:
    kind: HostKind
    net: LabNet
    host: LabHost
    work: Path
    deployed: int = 0
    declared: list[str] = field(default_factory=list)
    seen: dict[str, int] = field(default_factory=dict)  # replies compared by stage and class, for the summary
    timings: list[tuple[float, float]] = field(default_factory=list)  # (deploy, sessions) seconds per policy


@pytest.fixture(scope="module", params=sorted(registered_kinds()))
def lab(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """One running host per kind, redeployed for each policy (a deploy costs seconds, a session little)."""
    need_lab(*LAB_TOOLS)
    kind = registered_kinds()[request.param]
    started = time.monotonic()
    with LabNet() as net, net.host(kind) as host:
        prepare_auth(host, kind)  # the certificate and the SASL user the AUTH/TLS policies name
        running = Lab(kind, net, host, tmp_path_factory.mktemp(f"diff-{kind.name}"))
        try:
            yield running
        finally:
            kind.stop(host)
            spent = [f"{deploy:.0f}+{sessions:.0f}" for deploy, sessions in running.timings]
            print(f"\n{kind.name}: {running.deployed} policies in {time.monotonic() - started:.0f} s "
                  f"(deploy+sessions: {' '.join(spent)}), replies "
                  f"compared by stage and class {dict(sorted(running.seen.items()))}; "
                  f"{len(running.declared)} declared divergence(s)" + "".join(f"\n{d}" for d in running.declared))


def deploy(lab: Lab, drawn: Drawn) -> tuple[Policy, list[tuple[str, str, str]]]:
    """Render ``drawn`` for the lab's kind with the CLI, deploy it; (policy, COVERAGE rows not enforced)."""
    kind = lab.kind
    lab.deployed += 1
    folder = lab.work / f"policy-{lab.deployed}"
    options = {**kind.policy_targets, "allow_unsupported": ALLOW_UNSUPPORTED.get(kind.name, [])}
    policy_file = write(drawn, folder, {kind.target: options})
    rendered = subprocess.run([sys.executable, "-m", "mtaharden", "render", str(policy_file), "--target", kind.target,
                               "--out", str(folder / "out")], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert rendered.returncode == 0, rendered.stderr
    policy = load_policy(policy_file)
    out = folder / "out" / kind.target
    kind.deploy(lab.host, out, registered()[kind.target].plan(policy))
    if lab.deployed > 1 and kind.name in REDEPLOY_SETTLE:  # let a restarted listener (svc -t) replace the old one
        time.sleep(REDEPLOY_SETTLE[kind.name])
        lab.host.wait_for_port(25)
    rows = [(element, status, detail) for element, (status, detail) in coverage_rows(out).items()
            if status != "enforced"]
    return policy, rows


def auth_plain() -> str:
    return "AUTH PLAIN " + base64.b64encode(f"\0{USER}@{REALM}\0{PASSWORD}".encode()).decode()


@dataclass(frozen=True)
class Script:
    """A transaction as SMTP commands, and where each compared reply lands in the conversation
    (0 is the greeting; STARTTLS's own EHLO and reply come first when the transaction uses TLS)."""

    session: Session
    helo: int | None
    auth: int | None
    mail: int
    rcpts: tuple[int, ...]
    data: int | None


def script(lab: Lab, t: Transaction, decisions: Sequence[Decision]) -> Script:
    commands: list[str | dict[str, str]] = []
    position = 3 if t.tls else 1
    helo = auth = data = None
    if t.helo is not None:
        commands.append(f"EHLO {t.helo}")
        helo, position = position, position + 1
    if t.auth is not None:
        commands.append(auth_plain())
        auth, position = position, position + 1
    commands.append(f"MAIL FROM:<{t.sender}>" + (f" SIZE={t.mail_size}" if t.mail_size is not None else ""))
    mail = position
    rcpts = tuple(range(mail + 1, mail + 1 + len(t.recipients)))
    commands += [f"RCPT TO:<{r}>" for r in t.recipients]
    if any(d.stage == "data" for d in decisions):  # a message only when the contract accepts a recipient
        commands += ["DATA", {"body": message(t.headers, t.size)}]
        data = rcpts[-1] + 2
    commands.append("RSET")
    address = lab.host.address if t.client.version == 4 else lab.host.address6
    return Script(Session(address, str(t.client), commands, starttls=t.tls, port=t.port, timeout=20,
                          implicit_tls=t.port == SMTPS), helo, auth, mail, rcpts, data)


# --- the comparison ---------------------------------------------------------------------------


def reply_class(code: int) -> str:
    """2xx/3xx accept, 4xx, 5xx; a closed connection counts as 4xx (RFC 5321 4.2.5: the client retries);
    a refused connection (nothing listens) is a class of its own: only a port the role does not open has it."""
    if code == NO_LISTENER:
        return "none"
    return "4xx" if code == DISCONNECTED or 400 <= code < 500 else "5xx" if code >= 500 else "2xx"


def _elements(decision: Decision) -> set[str]:
    """The elements a declaration may name for a divergence at ``decision``: the one that decided; for a
    relay refusal (``domains``) also the access rules the order made moot (a target that reads them first)."""
    chosen = set(decision.matched) if decision.element == "domains" else set()
    return chosen | ({decision.element} if decision.element else set())


class Found(NamedTuple):
    """One divergence: what differs, the policy elements a declaration may name, the reply code the host
    gave, and the evaluator's decision it contradicts (None: the AUTH or STARTTLS reply)."""

    what: str
    elements: set[str]
    code: int
    decision: Decision | None = None


def divergences(policy: Policy, t: Transaction, decisions: Sequence[Decision], conversation: Conversation,
                s: Script) -> list[Found]:
    """What differs for one transaction (see the module docstring)."""
    observed = [conversation.banner, *conversation.replies]

    def got(position: int) -> tuple[int, str]:
        return observed[position] if position < len(observed) else (DISCONNECTED, "gone")

    def shown(position: int) -> str:
        code, text = got(position)
        return f"{code} {text[:80]!r}"

    recipients = [d for d in decisions if d.stage == "rcpt"]
    answers = ", ".join(f"{d.argument}: {d.reply_class} ({d.element})" for d in recipients)
    if (listener := _listener(t, decisions[0], got(0))) is not None:
        return listener
    if t.tls:
        offered = got(2)[0] == 220
        if offered != (policy.tls is not None) and reply_class(got(0)[0]) == "2xx":
            return [Found(f"starttls: {shown(2)}, the contract offers STARTTLS exactly when tls is set", {"tls"},
                          got(2)[0])]
        if not offered:
            return []
    places = {"connect": 0, "helo": s.helo, "mail": s.mail}
    for decision in (d for d in decisions if d.stage in places):
        position = places[decision.stage]
        assert position is not None
        if decision.stage == "mail" and s.auth is not None and (found := _auth(policy, t, got(s.auth))):
            return found
        refused = reply_class(got(position)[0])
        if refused == "2xx" and decision.verdict != "accept":  # taken where the contract refuses: then every
            classes = {reply_class(got(p)[0]) for p in s.rcpts}  # RCPT must get that class (a later refusal)
            if classes == {decision.reply_class}:
                return []
            return [Found(f"{decision.stage}: {shown(position)} and RCPT {sorted(classes)}, the contract answers "
                          f"{decision.stage} {decision.reply_class} ({decision.element}: {decision.note})",
                          {decision.element} if decision.element else set(), got(position)[0], decision)]
        if refused == "2xx":
            continue
        if decision.verdict != "accept":
            wrong = [] if decision.reply_class == refused else [decision]
        else:  # an earlier refusal of what the contract refuses later (MAIL, every recipient), with that class
            later = recipients or [d for d in decisions if d.stage in places and d.verdict != "accept"][:1]
            wrong = [d for d in later if d.reply_class != refused] or ([] if later else [decision])
        if not wrong:
            return []
        also = set()
        if t.mail_size is not None:  # refused for SIZE= at MAIL: what RCPT would have judged may explain it too
            also = {"smtp.max_message_size"} | {e for d in evaluate(policy, replace(t, mail_size=None)).decisions
                                                if d.stage == "rcpt" for e in _elements(d)}
        return [Found(f"{decision.stage}: {shown(position)}, the contract answers {decision.stage} "
                      f"{decision.reply_class} ({decision.element}); {answers}",
                      set().union(also, *(_elements(d) for d in wrong)), got(position)[0], wrong[0])]
    found = [Found(f"rcpt {d.argument}: {shown(p)}, the contract answers {d.reply_class} by {d.element} "
                   f"(matched: {', '.join(d.matched)})", _elements(d), got(p)[0], d)
             for d, p in zip(recipients, s.rcpts, strict=False) if reply_class(got(p)[0]) != d.reply_class]
    if len(recipients) > policy.smtp.max_recipients:  # one divergence shifts the recipient count: the first only
        found = found[:1]
    data = next((d for d in decisions if d.stage == "data"), None)
    if found or data is None or s.data is None:
        return found
    position = s.data if 300 <= got(s.data - 1)[0] < 400 else s.data - 1  # DATA refused: that reply counts
    if reply_class(got(position)[0]) == data.reply_class:
        return []
    if abs(t.size - policy.smtp.max_message_size) <= SIZE_SLACK:  # a reading of the size may differ
        also = {"smtp.max_message_size"}
    else:  # a reading of a header check may differ for the header lines the message has
        names = {line.partition(":")[0].lower() for line in t.headers}
        also = {f"header_checks[{i}]" for i, c in enumerate(policy.header_checks) if c.header.lower() in names}
    return [Found(f"data ({t.size} bytes, {list(t.headers)}): {shown(position)}, the contract answers "
                  f"{data.reply_class} by {data.element} ({data.note})", _elements(data) | also, got(position)[0],
                  data)]


def _listener(t: Transaction, connect: Decision, greeting: tuple[int, str]) -> list[Found] | None:
    """The connection: refused (nothing listens) or a 5xx greeting exactly where the role opens no port;
    None when the host greets and the contract accepts the connection (the later stages decide)."""
    observed = reply_class(greeting[0])
    if connect.verdict != "accept":
        if observed in ("none", connect.reply_class):
            return []
        what = f"connect to port {t.port}: {greeting[0]} {greeting[1][:80]!r}, the contract: {connect.note}"
    elif observed == "none":
        what = f"connect to port {t.port}: nothing listens, the contract accepts the connection"
    else:
        return None
    return [Found(what, {"role"} | ({"auth.submission"} if t.port != MX_PORT else set()), greeting[0], connect)]


def _auth(policy: Policy, t: Transaction, reply: tuple[int, str]) -> list[Found]:
    """AUTH succeeds exactly when the evaluator counts the client as authenticated."""
    expected = authenticated(policy, t)
    if (reply_class(reply[0]) == "2xx") == expected:
        return []
    return [Found(f"auth (TLS {t.tls}): {reply[0]} {reply[1][:80]!r}, the contract "
                  + ("authenticates" if expected else "refuses AUTH"
                     + (" before STARTTLS (auth.require_tls)" if policy.auth.enabled else " (auth.enabled: false)")),
                  ({"auth", "tls"} if not t.tls else {"auth"}) | ({"auth.submission"} if t.port != MX_PORT else set()),
                  reply[0])]


def parent_domain_rules(policy: Policy, t: Transaction, recipient: str) -> set[str]:
    """Sender and recipient rules whose domain is a parent of the address's domain: the contract says
    they do not match, a reading that follows parent domains (Sendmail's access map) says they do."""
    found = set()
    for stage, address in (("senders", t.sender), ("recipients", recipient)):
        domain = address.rpartition("@")[2]
        for index, rule in enumerate(getattr(policy.access, stage)):
            rule_user, _, rule_domain = getattr(rule, "match", "-@").rpartition("@")
            if rule_domain and not rule_user and domain.endswith("." + rule_domain):
                found.add(f"access.{stage}[{index}]")
    return found


def _related(a: str, b: str) -> bool:
    """Whether two element names are the same, or one is a part of the other (``access.helo``, ``access.helo[1]``)."""
    return a == b or a.startswith((b + ".", b + "[")) or b.startswith((a + ".", a + "["))


@dataclass(frozen=True)
class Seen:
    """What a declaration's condition is judged on: one divergence, its transaction and the row's element."""

    policy: Policy
    t: Transaction
    found: Found
    element: str  # the COVERAGE row's element

    def concerns(self) -> bool:
        """The row names an element the divergence concerns (the one that decided, or one it names)."""
        return any(_related(e, self.element) for e in self.found.elements)

    def decided(self) -> bool:
        d = self.found.decision
        return d is not None and d.element is not None and _related(d.element, self.element)

    def matched(self) -> bool:
        d = self.found.decision
        return d is not None and any(_related(e, self.element) for e in d.matched)

    def refused(self) -> bool:
        return reply_class(self.found.code) != "2xx"

    def relay_attempt(self) -> bool:
        return self.found.decision is not None and self.found.decision.element == "domains"

    def rule(self) -> Any:
        """The policy item an indexed row names (``access.senders[2]``, ``dnsbl[0]``); None otherwise."""
        match = re.fullmatch(r"(?:access\.)?(\w+)\[(\d+)\]", self.element)
        if match is None:
            return None
        items = getattr(self.policy.access if self.element.startswith("access.") else self.policy, match.group(1))
        return items[int(match.group(2))]

    def listed(self) -> bool:
        """The client is listed at the row's DNSBL zone (with any answer: the row says the filter is not applied)."""
        return self.rule().zone in self.t.listed

    def sender_covered(self) -> bool:
        return bool(self.t.sender) and address_covers(self.rule(), self.t.sender)

    def parent_domain(self) -> bool:
        return any(self.element in parent_domain_rules(self.policy, self.t, r) for r in self.t.recipients)

    def encoded_header(self) -> bool:
        """A header line the row's check reads carries non-ASCII text (raw or RFC 2047 encoded)."""
        name = self.rule().header.lower()
        return any(line.partition(":")[0].lower() == name and not line.isascii() for line in self.t.headers)

    def other_domain(self) -> bool:
        """The recipient the divergence is about is in neither a local nor a relay domain (a relay)."""
        d = self.found.decision
        domain = split_address(d.argument)[1] if d is not None and d.stage == "rcpt" else ""
        return bool(domain) and not domain_matches([*self.policy.domains.local, *self.policy.domains.relay], domain)

    def size_ignored_at_mail(self) -> bool:
        """MAIL with SIZE= over the limit taken (the host reads no SIZE=)."""
        d = self.found.decision
        return (d is not None and d.stage == "mail" and d.element == "smtp.max_message_size"
                and reply_class(self.found.code) == "2xx")

    def line_counted_size(self) -> bool:
        """End of DATA, the message over the limit by at most its number of lines (LF counted, not CRLF)."""
        over = self.t.size - self.policy.smtp.max_message_size
        return self.found.decision is not None and self.found.decision.stage == "data" and 0 < over <= self.t.size // 76


class Condition(NamedTuple):
    """When a not-enforced COVERAGE row of ``kinds`` whose element matches ``element`` and whose text
    contains ``text`` declares a divergence. ``listener``: the row is about the listener (a refused
    connection), and only such rows declare one."""

    kinds: tuple[str, ...]
    element: str
    text: str
    holds: Callable[[Seen], bool]
    listener: bool = False


# Each row's own condition, in the suite's terms. An ``unsupported`` row without an entry declares what its
# element decides or concerns (the target does not carry the element out at all); an ``approximated`` row
# declares only what its entry says; no row declares a refused connection but a listener row.
CONDITIONS = (
    Condition(("postfix", "sendmail"), r"header_checks\[\d+\]", "RFC 2047",
              lambda c: c.concerns() and c.encoded_header()),
    Condition(("qmail",), r"(networks\.trusted|access\.clients)\[\d+\]", "IPv4",
              lambda c: c.t.client.version == 6, listener=True),
    Condition(("qmail",), r"auth\.submission", "no qmail submission service",
              lambda c: c.t.port != MX_PORT, listener=True),
    Condition(("qmail", "sendmail", "opensmtpd"), r"access\.\w+\[\d+\]", "relay attempts too",
              lambda c: c.relay_attempt() and c.matched() and reply_class(c.found.code) == "4xx"),
    Condition(("qmail",), r"access\.clients\[\d+\]", "still meets control/badmailfrom",
              lambda c: c.decided() and c.refused()),
    Condition(("qmail",), r"access\.clients\[\d+\]", "drops the connection",
              lambda c: c.concerns() and c.found.code == DISCONNECTED),
    Condition(("qmail",), r"access\.(recipients|senders)\[\d+\]", "cannot exempt it",
              lambda c: c.decided() and c.refused()),
    Condition(("qmail",), r"access\.senders\[\d+\]", "control/badmailfrom:", lambda c: c.sender_covered()),
    Condition(("qmail",), r"dnsbl\[\d+\]", "return-code filter", lambda c: c.listed()),
    Condition(("qmail",), r"domains\.local", "accepts every local part", lambda c: c.concerns() and not c.refused()),
    Condition(("sendmail",), r"dnsbl\[\d+\]", "filter widened", lambda c: c.listed()),
    Condition(("sendmail",), r"access\.clients\[\d+\]", "permit ends the client rules only",
              lambda c: c.decided() and c.refused()),
    Condition(("sendmail",), r"access\.helo", "permit only ends the HELO rules", lambda c: c.decided() and c.refused()),
    Condition(("sendmail",), r"access\.(senders|recipients)\[\d+\]", "parent domains", lambda c: c.parent_domain()),
    Condition(("sendmail",), r"access\.recipients\[\d+\]", "later refusing recipient rule",
              lambda c: c.decided() and c.refused()),
    Condition(("sendmail",), r"access\.recipients\[\d+\]", "looks user@ up for local users alone",
              lambda c: c.decided() and not c.refused() and c.other_domain()),
    Condition(("sendmail",), r"smtp\.max_message_size", "LF line ends", lambda c: c.line_counted_size()),
    Condition(("sendmail",), r"smtp\.require_helo", "refused at EHLO itself",
              lambda c: c.found.what.startswith("helo:") and c.refused() and not _valid_helo(c.t.helo)),
    Condition(("sendmail",), r"access\.(senders|helo)\[\d+\]", "authenticated client's mail passes",
              lambda c: c.decided() and not c.refused() and authenticated(c.policy, c.t)),
    Condition(("qmail", "opensmtpd"), r"smtp\.max_message_size", "LF line ends",
              lambda c: c.line_counted_size() or c.size_ignored_at_mail()),
    Condition(("sendmail",), r"smtp\.strict_envelopes", "RFC 5321 paths", lambda c: c.concerns() or c.matched()),
    Condition(("opensmtpd",), r"smtp\.strict_envelopes", "without a domain", lambda c: c.concerns()),
    Condition(("opensmtpd",), r"smtp\.require_helo", "at HELO itself",
              lambda c: c.found.what.startswith("helo:") and c.refused()),
    Condition(("opensmtpd",), r"auth\.submission", "no submission listener", lambda c: c.t.port != MX_PORT,
              listener=True),
    Condition(("postfix",), r"smtp\.max_message_size", "envelope records",  # refused at DATA, at most 2 KiB under
              lambda c: c.found.decision is not None and c.found.decision.stage == "data" and c.refused()
              and 0 <= c.policy.smtp.max_message_size - c.t.size <= SIZE_SLACK),
)


def declaration(kind: str, rows: Sequence[tuple[str, str, str]], seen: Seen) -> str | None:
    """The COVERAGE.md row (not enforced) whose condition holds for this divergence, if any (see CONDITIONS)."""
    refused_connection = seen.found.code == NO_LISTENER
    for element, status, how in rows:
        if _named_place(element):  # e.g. networks.trusted[host]: a vantage the suite's clients never take
            continue
        judged = replace(seen, element=element)
        entries = [c for c in CONDITIONS if kind in c.kinds and re.fullmatch(c.element, element) and c.text in how]
        holds = any(c.listener == refused_connection and c.holds(judged) for c in entries) or (
            not entries and status == "unsupported" and not refused_connection and judged.concerns())
        if holds:
            return f"{element} {status}: {how}"
    return None


def _named_place(element: str) -> bool:
    """Whether a coverage row names a place (``[HELP]``, ``[host]``) rather than a list index (``[2]``)."""
    return element.endswith("]") and not element[element.rfind("[") + 1:-1].isdigit()


def known(kind: HostKind, policy: Policy, t: Transaction, found: Found) -> str | None:
    """A divergence an explicit case below keeps as a strict xfail for ``kind`` (the target must fix it or
    declare it): its reason, so the generated run reports it as known instead of failing on it again.
    None is kept now (TARGET_DIVERGENCES is empty)."""
    return None


def _valid_helo(helo: str | None) -> bool:
    try:
        helo_name(helo or "")
    except PolicyValueError:
        return False
    return True


def _count(lab: Lab, decisions: Sequence[Decision]) -> None:
    for d in decisions:
        key = f"{d.stage} {d.reply_class}"
        lab.seen[key] = lab.seen.get(key, 0) + 1


def check(lab: Lab, drawn: Drawn, transactions: Sequence[Transaction], *, known_ok: bool = True) -> None:
    """Deploy one policy, replay every transaction, fail on any divergence its coverage does not declare
    (nor, with ``known_ok``, an explicit case keeps as a target's divergence)."""
    started = time.monotonic()
    policy, rows = deploy(lab, drawn)
    outcomes = [evaluate(policy, t).decisions for t in transactions]
    scripts = [script(lab, t, decisions) for t, decisions in zip(transactions, outcomes, strict=True)]
    deployed = time.monotonic()
    conversations = talk(lab.net, [s.session for s in scripts])
    lab.timings.append((deployed - started, time.monotonic() - deployed))
    undeclared = []
    for t, decisions, s, conversation in zip(transactions, outcomes, scripts, conversations, strict=True):
        _count(lab, decisions)
        for found in divergences(policy, t, decisions, conversation, s):
            text = (f"{t.client} TLS {t.tls} AUTH {t.auth} HELO {t.helo} MAIL <{t.sender}>"
                    f"{f' SIZE={t.mail_size}' if t.mail_size is not None else ''} RCPT {list(t.recipients)}: "
                    f"{found.what}")
            row = declaration(lab.kind.name, rows, Seen(policy, t, found, ""))
            row = row or (known(lab.kind, policy, t, found) if known_ok else None)
            if row is None:
                undeclared.append(text)
            else:
                lab.declared.append(f"  {text}\n    declared: {row[:160]}")
    assert undeclared == [], (f"{lab.kind.name} diverges from the evaluator, undeclared, for policy\n"
                              f"{json.dumps(drawn.document)}\n" + "\n".join(undeclared))


# --- the tests --------------------------------------------------------------------------------


def for_kind(kind: HostKind, drawn: Drawn) -> Drawn:
    """``drawn`` without what the kind cannot render at all (UNRENDERABLE)."""
    dropped = UNRENDERABLE.get(kind.name, {})
    document = drawn.document
    domains = {key: [d for d in names if d not in dropped.get(key, ())] for key, names in document["domains"].items()}
    checks = [c for c in document.get("header_checks", []) if c["action"] not in dropped.get("header_checks", ())]
    role = "mx" if document.get("role") in dropped.get("role", ()) else document.get("role", "mx")
    return Drawn({**document, "domains": domains, "header_checks": checks, "role": role}, drawn.files)




@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
@given(drawn=policy_documents().filter(_valid), seed=st.integers(0, 2**32 - 1))
def test_generated_policies_mean_what_the_evaluator_says(lab: Lab, drawn: Drawn, seed: int) -> None:
    rng, every = random.Random(seed), SOURCES  # IPv6 too: qmail's IPv6 rows declare its refused connections
    transactions = [transaction(rng, source, every) for source in every]  # both sides of every client rule
    transactions += [transaction(rng, "", every) for _ in range(TRANSACTIONS - len(every))]
    check(lab, for_kind(lab.kind, drawn), transactions)


def _t(client: str, helo: str | None, sender: str, *recipients: str, tls: bool = False, auth: bool = False,
       headers: Sequence[str] = (), size: int = 0, declare: bool = False, port: int = MX_PORT) -> Transaction:
    return _build(client, helo, sender, recipients, tls, auth, headers, size, declare, port)


HELO_BEFORE_TLS = "the HELO name given before STARTTLS is forgotten"
SENDMAIL_ACCESS_CASE = "a client rule over a trusted network, AUTH relays past a defer, an invalid HELO name at EHLO"
SUBMISSION_CASE = ("AUTH relays after STARTTLS only; header checks; size and recipient limits; HELO and envelope "
                   "checks; the role's ports: 25 for the domains, 587 and 465 for authenticated clients only")
NULL_CLIENT_CASE = "a null-client takes nothing from outside, on any port"
DOT_LOCAL_CASE = "a .domain local domain takes its subdomains"
# Kinds whose deploy cannot run an explicit case's role (it waits for a port-25 service inside the host).
NOT_DEPLOYABLE = {("qmail", NULL_CLIENT_CASE): "role null-client runs no qmail-smtpd, and the qmail kind's deploy "
                                               "waits for it (tests/lab/qmail.py)",
                  **{(kind, DOT_LOCAL_CASE): "a .domain local domain is not rendered (UNRENDERABLE, declared)"
                     for kind in ("qmail", "sendmail")}}
IPV6_AND_LIST_ORDER = "IPv6 clients; a list-file entry user@ before an inline domain rule of the same list"
# Divergences the suite found, kept as explicit cases (policy, transactions) that run on every kind.
REGRESSIONS: list[tuple[str, Drawn, list[Transaction]]] = [
    # No target diverged on the first, the known question (RFC 5321 wants postmaster@ reachable; the
    # contract: an explicit client block is stronger). Sendmail let a sender permit (From: OK) and a HELO
    # permit lift the client block: fixed (Local_check_rcpt whenever a later list permits). Sendmail and
    # qmail answer a client defer with 4xx to a relay attempt too, where the contract refuses it 5xx (declared).
    ("an explicit client block beats every later permit, postmaster@ included",
     Drawn({"version": 1, "hostname": HOSTNAME, "domains": {"local": ["example.test"]},
      "access": {"clients": [{"match": "192.0.2.40/31", "action": "reject", "message": "Go away"},
                             {"match": "192.0.2.30/32", "action": "defer"}],
                 "recipients": [{"match": "postmaster@", "action": "permit"}],
                 "senders": [{"match": "friend@spam.example", "action": "permit"}],
                 "helo": [{"match": "good.helo.test", "action": "permit"}]}}),
     [_t(REJECTED, "client.test", "a@client.test", "postmaster@example.test", "root@example.test"),
      _t(EXEMPT, "client.test", "friend@spam.example", "root@example.test"),
      _t(EXEMPT, "good.helo.test", "a@client.test", "root@example.test"),
      _t(UNTRUSTED, "client.test", "friend@spam.example", "postmaster@example.test", "root@example.test"),
      _t(BLOCKED, "client.test", "a@client.test", "root@example.test", "x@foreign.test")]),
    # Postfix and Sendmail look an address up as user@domain, then domain, then user@: a later, more
    # specific rule won (Postfix: 4xx for friend@ where the first rule refuses spam.example; root@example.test
    # accepted by the domain permit). Fixed: targets/address_keys.py writes the first match into the keys.
    # Sendmail reads user@ recipient keys for local users only: the relay domains get user@domain keys
    # (fixed); for other domains (a trusted client's relay) it stays declared. Sendmail's own relay-check
    # expected postmaster@ of every domain accepted although a recipient rule defers it: its scenarios
    # now take their expectation from the evaluator. A Sendmail client permit still meets the sender rules,
    # a qmail one badmailfrom, and qmail drops a client refused without a message (all declared).
    ("first match in address lists; user@ rules; a client permit; a reject without message",
     Drawn({"version": 1, "hostname": HOSTNAME,
      "domains": {"local": ["example.test"], "relay": ["relay.example.test"]},
      "networks": {"trusted": ["127.0.0.0/8", "192.0.2.10/32"]},
      "access": {"clients": [{"match": "192.0.2.30/32", "action": "permit"},
                             {"match": "192.0.2.31/32", "action": "reject"}],
                 "senders": [{"match": "spam.example", "action": "reject", "message": "Refused by rule"},
                             {"match": "friend@spam.example", "action": "defer"}],
                 "recipients": [{"match": "root@", "action": "reject"}, {"match": "example.test", "action": "permit"},
                                {"match": "postmaster@", "action": "defer"}]}}),
     [_t(UNTRUSTED, "client.test", "friend@spam.example", "someone@relay.example.test"),
      _t(UNTRUSTED, "client.test", "a@client.test", "root@example.test", "postmaster@example.test"),
      _t(UNTRUSTED, "client.test", "a@client.test", "postmaster@relay.example.test"),
      _t(TRUSTED, "client.test", "a@client.test", "root@foreign.test", "x@foreign.test"),
      _t(BLOCKED, "client.test", "friend@spam.example", "someone@relay.example.test"),
      _t(LISTED_OUTSIDE, "client.test", "a@client.test", "postmaster@example.test")]),
    # AUTH and TLS, the DATA stage, the recipient limit, HELO and envelope strictness (issue 17's second
    # round): no kind diverged beyond what its COVERAGE.md declares (qmail: no AUTH, TLS, header filter,
    # HELO or envelope checks; Sendmail: strict_envelopes approximated).
    # Roles other than mx (issue 17's last round) on the same host: on the submission ports only AUTH decides
    # (after STARTTLS when the policy has tls; 465 is TLS from the first byte), so a client the access lists
    # refuse on port 25 still submits there once authenticated, and a trusted client without AUTH submits nothing.
    (SUBMISSION_CASE,
     Drawn({"version": 1, "hostname": HOSTNAME, "role": "mx+submission",
            "domains": {"local": ["example.test"], "relay": ["relay.example.test"]},
            "networks": {"trusted": ["127.0.0.0/8", "192.0.2.10/32"]},
            "access": {"clients": [{"match": "192.0.2.30/32", "action": "reject"}],
                       "recipients": [{"match": "closed@example.test", "action": "reject"}]},
            "header_checks": [{"header": "Subject", "pattern": "(?i)make money", "action": "reject"},
                              {"header": "Subject", "pattern": "发票", "action": "reject"},
                              {"header": "X-Spam", "pattern": "^yes", "action": "hold"}],
            "smtp": {"max_message_size": SIZE_LIMIT, "max_recipients": 2},
            **security((True, "may"))}),
     [_t(UNTRUSTED, "client.test", "a@client.test", "x@foreign.test", tls=True, auth=True),
      _t(UNTRUSTED, "client.test", "a@client.test", "x@foreign.test", auth=True),
      _t(UNTRUSTED, "client.test", "a@client.test", "x@foreign.test", "root@example.test", tls=True),
      _t(UNTRUSTED, "client.test", "a@client.test", "root@example.test", headers=["Subject: 发票 now"]),
      _t(UNTRUSTED, "client.test", "a@client.test", "root@example.test", headers=["Subject: 代开发票"]),
      _t(UNTRUSTED, "client.test", "a@client.test", "root@example.test", headers=["Subject: MAKE MONEY FAST now"]),
      _t(UNTRUSTED, "client.test", "a@client.test", "root@example.test", tls=True,
         headers=["X-Spam: yes", "Subject: lunch at noon"], size=SIZE_LIMIT - SIZE_SLACK, declare=True),
      _t(UNTRUSTED, "client.test", "a@client.test", "root@example.test", size=SIZE_LIMIT + SIZE_SLACK),
      _t(UNTRUSTED, "client.test", "a@client.test", "root@example.test", size=SIZE_LIMIT + SIZE_SLACK, declare=True),
      _t(UNTRUSTED, "client.test", "a@client.test", "root@example.test", "postmaster@example.test",
         "x@relay.example.test", "closed@example.test", "x@foreign.test"),
      _t(UNTRUSTED, None, "a@client.test", "root@example.test"),
      _t(UNTRUSTED, "bad_helo!", "a@client.test", "root@example.test"),
      _t(UNTRUSTED, "client.test", "nobody", "root@example.test"),
      _t(UNTRUSTED, "client.test", "", "postmaster@example.test"),
      _t(UNTRUSTED, "client.test", "a@client.test", "x@foreign.test", "root@example.test", tls=True, auth=True,
         port=SUBMISSION),
      _t(UNTRUSTED, "client.test", "a@client.test", "root@example.test", tls=True, port=SUBMISSION),
      _t(TRUSTED, "client.test", "a@client.test", "x@foreign.test", tls=True, port=SUBMISSION),
      _t(UNTRUSTED, "client.test", "a@client.test", "x@foreign.test", auth=True, port=SUBMISSION),
      _t(UNTRUSTED, "client.test", "a@client.test", "x@foreign.test", auth=True, port=SMTPS),
      _t(UNTRUSTED, "client.test", "a@client.test", "root@example.test", port=SMTPS),
      _t(BLOCKED, "client.test", "a@client.test", "root@example.test", tls=True, auth=True, port=SUBMISSION),
      _t(BLOCKED, "client.test", "a@client.test", "root@example.test"),
      _t(UNTRUSTED, "client.test", "a@client.test", "x@foreign.test", tls=True, auth=True),
      _t(UNTRUSTED, "client.test", "a@client.test", "root@example.test", "x@foreign.test"),
      _t(TRUSTED, "client.test", "a@client.test", "x@foreign.test", port=2525)]),
    # The suite found: every kind counts the size its own way at end of DATA (README), and qmail does not
    # read SIZE=. Postfix is exact at MAIL SIZE=, Sendmail too.
    ("a message one byte under and over smtp.max_message_size, and SIZE= one over",
     Drawn({"version": 1, "hostname": HOSTNAME, "domains": {"local": ["example.test"]},
            "smtp": {"max_message_size": SIZE_LIMIT}}),
     [_t(UNTRUSTED, "client.test", "a@client.test", "root@example.test", size=SIZE_LIMIT - 1),
      _t(UNTRUSTED, "client.test", "a@client.test", "root@example.test", size=SIZE_LIMIT + 1),
      _t(UNTRUSTED, "client.test", "a@client.test", "root@example.test", size=SIZE_LIMIT + 1, declare=True)]),
    # The suite found: Sendmail does not listen on IPv6 at all (qmail neither: declared). Postfix lets a later
    # inline domain rule beat an earlier list-file entry user@ for a domain it relays for a trusted client
    # (an inline user@ rule, or a local domain, keep the order).
    (IPV6_AND_LIST_ORDER,
     Drawn({"version": 1, "hostname": HOSTNAME, "domains": {"local": ["example.test"]},
            "networks": {"trusted": ["127.0.0.0/8", f"{TRUSTED6}/128", "192.0.2.10/32"]},
            "access": {"clients": [{"match": f"{BLOCKED6}/128", "action": "reject"},
                                   {"file": "clients.txt", "action": "defer"}],
                       "recipients": [{"file": "recipients.txt", "action": "defer"},
                                      {"match": "local2.test", "action": "permit"}]}},
           {"clients.txt": f"{PREFIX6}30/127\n192.0.2.41\n", "recipients.txt": "root@\n"}),
     [_t(TRUSTED6, "client.test", "a@client.test", "x@foreign.test", "postmaster@example.test"),
      _t(BLOCKED6, "client.test", "a@client.test", "postmaster@example.test"),
      _t(UNTRUSTED6, "client.test", "a@client.test", "postmaster@example.test", "x@foreign.test"),
      _t(v6(LISTED_OUTSIDE), "client.test", "a@client.test", "postmaster@example.test"),
      _t(EXEMPT, "client.test", "a@client.test", "postmaster@example.test"),
      _t(TRUSTED, "client.test", "a@client.test", "root@local2.test", "postmaster@local2.test")]),
    # The suite found: Sendmail keeps the EHLO name given before STARTTLS for its HELO rules.
    (HELO_BEFORE_TLS,
     Drawn({"version": 1, "hostname": HOSTNAME, "domains": {"local": ["example.test"]},
            "access": {"helo": [{"match": PRE_TLS_HELO, "action": "reject"}]}, "smtp": {"require_helo": False},
            **security((True, "may"))}),
     [_t(UNTRUSTED, None, "a@client.test", "root@example.test", tls=True),
      _t(UNTRUSTED, "good.helo.test", "a@client.test", "root@example.test", tls=True)]),
    # The strict matching found what a loose one took for declared (a row of the deciding rule, for another
    # condition): Sendmail refused a trusted client's relay (5xx) when a client rule covers it (the access
    # map's Connect: value replaced RELAY) and relayed an authenticated client's mail past a client defer:
    # fixed (Connect: RELAY for trusted networks, the client rules as ClientRule: keys read by Local_check_rcpt
    # first). It relays an authenticated client's mail past a sender defer (Rcpt_ok ends the checks) and
    # refuses an invalid HELO name at EHLO (501) where an earlier rule decides otherwise: declared.
    (SENDMAIL_ACCESS_CASE,
     Drawn({"version": 1, "hostname": HOSTNAME, "domains": {"local": ["example.test"]},
            "networks": {"trusted": ["127.0.0.0/8", "192.0.2.10/32"]},
            "access": {"clients": [{"match": "192.0.2.10/32", "action": "defer"}],
                       "senders": [{"match": "@spam.example", "action": "defer"}]},
            "smtp": {"require_helo": True}, **security((True, "may"))}),
     [_t(TRUSTED, "client.test", "a@client.test", "x@foreign.test"),
      _t(UNTRUSTED, "client.test", "friend@spam.example", "x@foreign.test", tls=True, auth=True),
      _t(TRUSTED, "bad_helo!", "a@client.test", "root@example.test")]),
    # The suite found (MTAHARDEN_DIFF_EXAMPLES=5): Postfix refuses the subdomains of a .domain local domain as
    # relaying (mydestination is a string list: ".sub.local2.test" matches only that text).
    (DOT_LOCAL_CASE,
     Drawn({"version": 1, "hostname": HOSTNAME, "domains": {"local": ["example.test", ".sub.local2.test"]}}),
     [_t(UNTRUSTED, "client.test", "a@client.test", "root@a.sub.local2.test", "root@sub.local2.test",
         "root@example.test")]),
    (NULL_CLIENT_CASE,
     Drawn({"version": 1, "hostname": HOSTNAME, "role": "null-client", "domains": {"local": ["example.test"]},
            "networks": {"trusted": ["127.0.0.0/8", "192.0.2.10/32"]}}),
     [_t(TRUSTED, "client.test", "a@client.test", "x@foreign.test"),
      _t(UNTRUSTED, "client.test", "a@client.test", "root@example.test"),
      _t(UNTRUSTED, "client.test", "a@client.test", "root@example.test", port=SUBMISSION),
      _t(UNTRUSTED, "client.test", "a@client.test", "root@example.test", port=SMTPS)]),
]


# (kind, explicit case) -> "divergence: <target>: <exact condition>": what only the target can fix or declare.
TARGET_DIVERGENCES: dict[tuple[str, str], str] = {}


@pytest.mark.parametrize("name", [name for name, _, _ in REGRESSIONS])
def test_regressions(lab: Lab, name: str, request: pytest.FixtureRequest) -> None:
    _, drawn, transactions = next(r for r in REGRESSIONS if r[0] == name)
    if (lab.kind.name, name) in NOT_DEPLOYABLE:
        pytest.skip(NOT_DEPLOYABLE[lab.kind.name, name])
    if (lab.kind.name, name) in TARGET_DIVERGENCES:  # a target must fix it: fails until it does
        request.applymarker(pytest.mark.xfail(strict=True, reason=TARGET_DIVERGENCES[lab.kind.name, name]))
    check(lab, drawn, transactions, known_ok=(lab.kind.name, name) not in TARGET_DIVERGENCES)
