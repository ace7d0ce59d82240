"""The relay self-check's scenarios: what a deployed config must decide at RCPT, as the evaluator says."""

from __future__ import annotations

import ipaddress

import pytest

from mtaharden.policy import Policy, load_policy, load_policy_text
from mtaharden.policy.evaluate import evaluate
from mtaharden.policy.transaction import Transaction
from mtaharden.targets.kit.relay_scenarios import FOREIGN, HELO, Scenario, contract_accepts, relay_scenarios
from tests.conftest import EXAMPLE_POLICY

AUTH = "auth: {enabled: true, mechanisms: [LOGIN, PLAIN]}\ntls: {cert: /c.pem, key: /k.pem}\n"
PERCENT = "someone%relaytest.invalid@[127.0.0.1]"


def policy(text: str) -> Policy:
    return load_policy_text(text, "p.yml")


def test_the_default_policy_relays_for_loopback_only() -> None:
    assert relay_scenarios(policy("{}\n"), authenticated=False) == [
        Scenario("trusted client 127.0.0.1", "127.0.0.1", FOREIGN, True),
        Scenario("stranger, foreign recipient", "192.0.2.1", FOREIGN, False),
        Scenario("stranger, percent hack", "192.0.2.1", PERCENT, False),
    ]


def test_an_authenticated_stranger_relays_only_where_the_target_can_simulate_it() -> None:
    with_auth = policy(AUTH)
    (authenticated,) = [s for s in relay_scenarios(with_auth, authenticated=True) if s.auth]
    assert authenticated == Scenario("stranger authenticated with LOGIN", "192.0.2.1", FOREIGN, True, "LOGIN")
    assert authenticated.authen == "relaycheck"
    assert not any(s.auth or s.authen for s in relay_scenarios(with_auth, authenticated=False))


def test_strangers_reach_our_local_and_relay_domains_not_their_subdomain_wildcards() -> None:
    found = relay_scenarios(policy("domains: {local: [example.org, .sub.example.org], relay: [relay.example]}\n"),
                            authenticated=False)
    assert [(s.name, s.recipient, s.accepted) for s in found if s.name.startswith("stranger to")] == [
        ("stranger to example.org", "postmaster@example.org", True),
        ("stranger to relay.example", "postmaster@relay.example", True)]


def test_a_long_domain_list_is_checked_at_both_ends() -> None:
    names = [f"d{i}.example" for i in range(25)]
    found = relay_scenarios(policy(f"domains: {{local: [{', '.join(names)}]}}\n"), authenticated=False)
    asked = [s.recipient.partition("@")[2] for s in found if s.name.startswith("stranger to")]
    assert asked == [*names[:10], *names[-10:]]


def test_a_refused_client_is_refused_even_for_a_permitted_recipient() -> None:
    found = relay_scenarios(policy("access: {clients: [{match: 203.0.113.0/24, action: reject}],\n"
                                   "         recipients: [{match: 'postmaster@', action: permit}]}\n"
                                   "domains: {local: [example.org]}\n"), authenticated=False)
    assert Scenario("refused client 203.0.113.1 to permitted postmaster@example.org", "203.0.113.1",
                    "postmaster@example.org", False) in found
    # the recipient rule decides postmaster@ for a stranger: an access question, so another user is asked
    assert [s.recipient for s in found if s.name == "stranger to example.org"] == ["relay-check@example.org"]


def test_the_stranger_is_outside_every_trusted_network_and_client_rule_and_a_refused_trusted_host_is_left_out(
) -> None:
    found = relay_scenarios(policy(
        "networks: {trusted: [192.0.2.0/24, 10.1.0.0/16]}\n"
        "access: {clients: [{match: 10.1.0.0/24, action: reject}, {match: 198.51.100.0/24, action: permit}]}\n"),
        authenticated=False)
    assert [s.name for s in found] == ["trusted client 192.0.2.1", "stranger, foreign recipient",
                                       "stranger, percent hack"]
    assert {s.client for s in found if s.name.startswith("stranger")} == {"203.0.113.1"}


def test_no_stranger_scenario_when_every_candidate_address_is_trusted_or_ruled() -> None:
    found = relay_scenarios(policy(
        "networks: {trusted: [192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 100.64.0.0/16, 240.0.0.0/16]}\n"),
        authenticated=True)
    assert [s.name for s in found] == [f"trusted client {h}" for h in
                                       ("192.0.2.1", "198.51.100.1", "203.0.113.1", "100.64.0.1", "240.0.0.1")]


def test_a_recipient_rule_makes_it_an_access_question_not_a_relay_one() -> None:
    ruled = policy("access: {recipients: [{match: postmaster@, action: reject}]}\ndomains: {local: [example.org]}\n")
    assert contract_accepts(ruled, "192.0.2.1", "postmaster@example.org") is None
    assert contract_accepts(ruled, "192.0.2.1", "x@example.org") is True
    assert contract_accepts(ruled, "192.0.2.1", FOREIGN) is False


def test_a_submission_only_role_is_asked_as_on_port_25() -> None:
    """The RCPT decision is shared by every daemon of the host; submission-only has no port 25 of its own."""
    found = relay_scenarios(policy("role: submission\n" + AUTH), authenticated=False)
    assert [(s.client, s.accepted) for s in found] == [("127.0.0.1", True), ("192.0.2.1", False),
                                                      ("192.0.2.1", False)]


@pytest.mark.parametrize("text", ["{}\n", AUTH + "domains: {local: [example.org], relay: [relay.example]}\n", None])
def test_every_verdict_is_the_evaluators(text: str | None) -> None:
    """Asked of the evaluator directly (with the check's HELO, past STARTTLS): the refused-client scenario
    too, which ``contract_accepts`` leaves to the access rules because a recipient rule matches."""
    chosen = load_policy(EXAMPLE_POLICY) if text is None else policy(text)
    found = [s for s in relay_scenarios(chosen, authenticated=True) if not s.auth]
    assert len(found) >= 3
    for s in found:
        transaction = Transaction(ipaddress.ip_address(s.client), HELO, "", (s.recipient,), tls=True)
        assert (evaluate(chosen, transaction).at("rcpt")[0].verdict == "accept") is s.accepted, s
