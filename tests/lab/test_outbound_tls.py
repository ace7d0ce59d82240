"""``outbound.tls`` on stock hosts: how a relayed message leaves, seen at the lab's sink (which offers no STARTTLS).

``may`` delivers to the sink in clear; ``encrypt`` keeps the message queued (the sink never offers TLS);
``dane`` on Postfix is refused at deploy by the plan's check step, since the lab resolver (dnsmasq) does not
validate DNSSEC. DANE delivery itself (a verified TLS delivery where signed TLSA records match, a deferral where
none does) is proven in ``test_dane.py``, on the DNSSEC-signed zone and validating resolver of ``dane.py``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.lab.conftest import Stock, deployed
from tests.lab.dane import ZONE
from tests.lab.exim import EximKind
from tests.lab.kind import DeployError, HostKind
from tests.lab.network import TRUSTED
from tests.lab.postfix import PostfixKind
from tests.lab.smtp import Session, talk
from tests.lab.test_behaviour import arrived, message, new_token

DEFERRAL_SECONDS = 90.0  # bounded; the first attempt comes late only on a loaded machine


def outbound_policy(level: str) -> dict[str, Any]:
    return {"version": 1, "hostname": "mx.example.test", "domains": {"local": ["example.test"]},
            "networks": {"trusted": [f"{TRUSTED}/32"]}, "outbound": {"tls": level}}


def dane_policy(kind: HostKind) -> dict[str, Any]:
    """``outbound.tls: dane``; Postfix logs each TLS handshake's summary (its site parameter
    smtp_tls_loglevel = 1, as TLS_README advises), where "Verified" names a TLSA-verified peer; Exim's DNSSEC
    check looks up the lab's signed zone (the lab's DNS has no org TLD, the knob's default)."""
    policy = outbound_policy("dane")
    policy["targets"] = {"postfix": {"parameters": {"smtp_tls_loglevel": 1}}, "exim": {"dnssec_probe": ZONE}}
    return policy


def relay(stock: Stock, label: str, domain: str = "foreign.example.net") -> str:
    """A trusted client relays one message to a foreign ``domain``; its token."""
    token = new_token(label)
    (conversation,) = talk(stock.net, [Session(stock.host.address, TRUSTED, [
        "EHLO trusted.client.test", "MAIL FROM:<probe@client.test>", f"RCPT TO:<{token}@{domain}>",
        "DATA", message(token)])])
    assert [code for code, _ in conversation.replies] == [250, 250, 250, 354, 250], conversation
    return token


@pytest.fixture(scope="module", params=[PostfixKind(), EximKind()], ids=lambda kind: kind.name)
def encrypting(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stock]:
    kind: HostKind = request.param
    with deployed(kind, tmp_path_factory.mktemp(f"{kind.name}-encrypt"), outbound_policy("encrypt")) as running:
        yield running


def test_encrypt_never_delivers_to_a_server_without_starttls(encrypting: Stock) -> None:
    token = relay(encrypting, "encrypt")
    deadline = time.monotonic() + DEFERRAL_SECONDS
    while "TLS" not in encrypting.kind.log_text(encrypting.host).split(token)[-1]:
        assert time.monotonic() < deadline, encrypting.kind.log_text(encrypting.host)[-3000:]
        time.sleep(0.5)
    assert arrived(encrypting, token, wait=2.0) == []
    assert not encrypting.kind.queue_empty(encrypting.host)


@pytest.mark.parametrize("kind", [PostfixKind(), EximKind()], ids=lambda kind: kind.name)
def test_may_delivers_in_clear_to_a_server_without_starttls(kind: HostKind,
                                                           tmp_path_factory: pytest.TempPathFactory) -> None:
    with deployed(kind, tmp_path_factory.mktemp(f"{kind.name}-may"), outbound_policy("may")) as stock:
        token = relay(stock, "may")
        assert len(arrived(stock, token)) == 1


@pytest.mark.parametrize(("kind", "refusal"), [(PostfixKind(), "DNSSEC validation may be unavailable"),
                                               (EximKind(), "the NS lookup of dane.example through /etc/resolv.conf "
                                                            "was not authenticated")], ids=["postfix", "exim"])
def test_dane_without_a_validating_resolver_is_refused_at_deploy(kind: HostKind, refusal: str,
                                                                tmp_path_factory: pytest.TempPathFactory) -> None:
    with pytest.raises(DeployError, match=refusal), \
            deployed(kind, tmp_path_factory.mktemp(f"{kind.name}-dane"), dane_policy(kind)):
        pass
