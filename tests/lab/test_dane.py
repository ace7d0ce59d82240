"""``outbound.tls: dane`` on stock hosts, proven against DNSSEC-signed TLSA records (``dane.py``).

Each kind's host resolves through the DANE lab's validating unbound. With ``dane`` (1) the deploy succeeds
(Postfix's check step, Postfix's own dnssec_probe, is silent there), (2) a message relayed to MATCHING
arrives at the TLS sink over TLS and the MTA logs it as DANE-verified, (3) a message to MISMATCHING, whose
TLSA matches no served key, is not delivered anywhere: it stays queued, deferred.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.lab.conftest import LAB_TOOLS, Stock, deployed
from tests.lab.coverage import coverage_rows
from tests.lab.dane import DANE_ADDRESSES, MATCHING, MISMATCHING, MX_MATCHING, RESOLVER, TOOLS, DaneLab
from tests.lab.exim import EximKind
from tests.lab.kind import HostKind
from tests.lab.network import LabNet
from tests.lab.postfix import PostfixKind
from tests.lab.roots import need_lab
from tests.lab.test_outbound_tls import dane_policy, outbound_policy, relay

WAIT_SECONDS = 30.0


def postfix_verified(token: str, log: str) -> str:
    """The smtp process that sent the token's message logged its connection as TLSA-verified."""
    sent = re.search(rf"postfix/smtp\[(\d+)\]: \w+: to=<{token}@{re.escape(MATCHING)}>.*status=sent", log)
    verified = sent and re.search(rf"postfix/smtp\[{sent[1]}\]: Verified TLS connection established to "
                                  rf"{re.escape(MX_MATCHING)}\[.*", log)
    return verified[0] if verified else ""


def exim_verified(token: str, log: str) -> str:
    """The token's ``=>`` line carries CV=dane (the tls_certificate_verified field: verified by DANE)."""
    return "\n".join(line for line in log.splitlines()
                     if " => " in line and f"{token}@{MATCHING}" in line and " CV=dane " in line)


def postfix_deferred(token: str, log: str) -> bool:
    return bool(re.search(rf"to=<{token}@{re.escape(MISMATCHING)}>.*status=deferred \(Server certificate not "
                          r"verified\)", log)) and "no matching DANE TLSA records" in log


def exim_deferred(token: str, log: str) -> bool:
    return "DANE attempt failed" in log and any(
        " == " in line and f"{token}@{MISMATCHING}" in line and "certificate verification failed" in line
        for line in log.splitlines())


# What each MTA logs for a TLSA-verified delivery, and for a deferral because no TLSA record matched.
VERIFIED: dict[str, Callable[[str, str], str]] = {"postfix": postfix_verified, "exim": exim_verified}
DEFERRED: dict[str, Callable[[str, str], bool]] = {"postfix": postfix_deferred, "exim": exim_deferred}


@dataclass(frozen=True)
class DaneStock:
    stock: Stock
    dane: DaneLab


@pytest.fixture(scope="module", params=[PostfixKind(), EximKind()], ids=lambda kind: kind.name)
def dane_stock(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaneStock]:
    kind: HostKind = request.param
    need_lab(*LAB_TOOLS, *TOOLS)
    with contextlib.ExitStack() as stack:
        net = stack.enter_context(LabNet(reserved=DANE_ADDRESSES, resolver=RESOLVER))
        dane = stack.enter_context(DaneLab(net))
        stock = stack.enter_context(deployed(kind, tmp_path_factory.mktemp(f"{kind.name}-dane"),
                                             dane_policy(kind), net=net))
        yield DaneStock(stock, dane)


def wait_for(found: Callable[[], Any], what: str, log: Callable[[], str]) -> Any:
    deadline = time.monotonic() + WAIT_SECONDS
    while not (result := found()):
        assert time.monotonic() < deadline, f"no {what} in {WAIT_SECONDS} s:\n{log()[-3000:]}"
        time.sleep(0.3)
    return result


def test_dane_deploys_with_a_validating_resolver(dane_stock: DaneStock) -> None:
    stock = dane_stock.stock
    resolv = stock.host.path("/etc/resolv.conf").read_text()
    assert f"nameserver {RESOLVER}" in resolv and "trust-ad" in resolv
    check = "posttls-finger" if stock.kind.name == "postfix" else "dnssec_strict"  # the DNSSEC check step ran
    assert any(check in " ".join(step.argv) for step in stock.plan.steps if step.phase == "check"), stock.plan.steps
    assert 25 in stock.host.listening()
    secrets = [dane_stock.dane.work / "mx.key", *dane_stock.dane.work.glob("K*.private")]
    assert len(secrets) == 5 and all(path.stat().st_mode & 0o077 == 0 for path in secrets)


def test_dane_delivers_over_verified_tls(dane_stock: DaneStock) -> None:
    stock, dane = dane_stock.stock, dane_stock.dane
    token = relay(stock, "dane-ok", MATCHING)
    (received,) = wait_for(lambda: [m for m in dane.messages() if token in str(m["data"])], "message at the TLS sink",
                           lambda: stock.kind.log_text(stock.host) + dane.logs())
    assert received["tls"] is True and received["cipher"], received
    assert received["rcpt_tos"] == [f"{token}@{MATCHING}"]
    verified = wait_for(lambda: VERIFIED[stock.kind.name](token, stock.kind.log_text(stock.host)),
                        "DANE-verified delivery in the log", lambda: stock.kind.log_text(stock.host))
    assert "TLS" in verified, verified
    assert not [m for m in stock.net.sink_messages() if token in str(m["data"])]


def test_dane_mismatch_stays_queued(dane_stock: DaneStock) -> None:
    stock, dane = dane_stock.stock, dane_stock.dane
    token = relay(stock, "dane-bad", MISMATCHING)
    wait_for(lambda: DEFERRED[stock.kind.name](token, stock.kind.log_text(stock.host)), "deferral in the log",
             lambda: stock.kind.log_text(stock.host))
    time.sleep(1.0)
    assert not [m for m in dane.messages() + stock.net.sink_messages() if token in str(m["data"])]
    queue = stock.host.run(["mailq"], check=False).stdout
    assert f"{token}@{MISMATCHING}" in queue, queue


@pytest.mark.parametrize("kind", [PostfixKind(), EximKind()], ids=lambda kind: kind.name)
def test_may_ignores_tlsa_on_postfix_and_keeps_exims_own_dane(kind: HostKind,
                                                             tmp_path_factory: pytest.TempPathFactory) -> None:
    """``may`` with a validating resolver and a TLSA record that matches nothing: Postfix delivers (unverified
    TLS), Exim keeps its default ``hosts_try_dane = *`` and defers, as its coverage row says."""
    need_lab(*LAB_TOOLS, *TOOLS)
    with LabNet(reserved=DANE_ADDRESSES, resolver=RESOLVER) as net, DaneLab(net) as dane, \
            deployed(kind, tmp_path_factory.mktemp(f"{kind.name}-may-dane"), outbound_policy("may"), net=net) as stock:
        token = relay(stock, "may-bad-tlsa", MISMATCHING)
        log = lambda: stock.kind.log_text(stock.host)  # noqa: E731
        if kind.name == "exim":
            wait_for(lambda: DEFERRED["exim"](token, log()), "deferral in the log", log)
            assert "Exim's default DANE" in coverage_rows(stock.rendered)["outbound.tls"][1]
        else:
            (received,) = wait_for(lambda: [m for m in dane.messages() if token in str(m["data"])],
                                   "message at the TLS sink", lambda: log() + dane.logs())
            assert received["tls"] is True, received
