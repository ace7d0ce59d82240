"""The Exchange target's decisions, read from its Plan, and its quoting filters (no templates, no files)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from mtaharden.policy import Policy, PolicyError, load_policy, load_policy_text
from mtaharden.render import RenderError
from mtaharden.targets.base import Plan, registered
from mtaharden.targets.exchange import (
    Concat,
    Connector,
    EdgeSection,
    ExchangeTarget,
    HardenScript,
    MailboxAntispam,
    TransportRule,
    Variable,
    dotnet_regex,
    md_code,
    ps_value,
)
from mtaharden.targets.exchange.guide import Guide
from mtaharden.targets.exchange.rules import address_regex
from mtaharden.targets.kit.escape import Unexpressible
from tests.conftest import EXAMPLE_POLICY

TLS = "tls: {cert: /etc/ssl/certs/mx1.pem, key: /etc/ssl/private/mx1.key}\n"
SUBMISSION = "role: mx+submission\nauth: {enabled: true}\n" + TLS


def plan(text: str = "") -> Plan:
    return ExchangeTarget().plan(load_policy_text(text, "policy.yml"))


def script(result: Plan) -> dict[str, Any]:
    (planned,) = [f for f in result.files if f.path == "harden.ps1"]
    assert isinstance(planned.context, HardenScript)
    return vars(planned.context)


def settings(values: Any) -> dict[str, Any]:
    """Settings as a dict; a stock connector's reconciled settings by their wanted values."""
    if not isinstance(values, Connector):
        return dict(values)
    found = dict(values.settings) | {item.name: list(item.wanted) for item in values.reconcile}
    return found | ({"Bindings": list(values.bindings.default)} if values.bindings else {})


def owned(connector: Connector, name: str) -> tuple[str, ...]:
    (item,) = [r for r in connector.reconcile if r.name == name]
    return item.owned


def status(result: Plan, element: str) -> str:
    (item,) = [c for c in result.coverage if c.element == element]
    return item.status


def rules(result: Plan) -> dict[str, dict[str, Any]]:
    found: tuple[TransportRule, ...] = script(result)["transport_rules"]
    return {rule.name: dict(rule.settings) for rule in found}


def edge(text: str) -> EdgeSection:
    section = script(plan(text + "targets: {exchange: {deployment: edge}}\n"))["edge"]
    assert isinstance(section, EdgeSection)
    return section


# --- files, registry, coverage ----------------------------------------------------------------


def test_target_is_registered_and_plans_three_files() -> None:
    assert isinstance(registered()["exchange"], ExchangeTarget)
    assert [f.path for f in plan().files] == ["harden.ps1", "GUIDE.md", "COVERAGE.md"]
    assert [f.comment for f in plan().files] == ["hash", "markdown", "markdown"]


BARE_NEWLINES = ["smtp.bare_newlines", "smtp.bare_newlines_exempt_trusted"]  # unsupported defaults: a warning


def test_an_empty_policy_renders_without_waivers() -> None:
    assert [gap.element for gap in plan().unwaived_gaps([])] == BARE_NEWLINES


def test_the_example_needs_only_its_helo_and_dnsbl_waivers() -> None:
    policy = load_policy(EXAMPLE_POLICY)
    result = ExchangeTarget().plan(policy)
    assert [gap.element for gap in result.unwaived_gaps([])] == ["dnsbl[0]", "dnsbl[1]", "access.helo", *BARE_NEWLINES]
    assert [g.element for g in result.unwaived_gaps(policy.targets.exchange.allow_unsupported)] == BARE_NEWLINES


def test_every_policy_element_has_coverage() -> None:
    result = plan(SUBMISSION + """\
domains: {local: [example.org], relay: [relay.example.org]}
dnsbl: [{zone: zen.spamhaus.org}]
access: {clients: [{match: 192.0.2.0/24, action: reject}], helo: [{match: localhost, action: reject}],
         senders: [{match: "@spam.example", action: reject}], recipients: [{match: "abuse@", action: permit}]}
header_checks: [{header: Subject, pattern: spam, action: reject}]
""")
    elements = {c.element for c in result.coverage}
    assert elements >= {
        "role", "hostname", "domains.local", "domains.relay", "networks.trusted", "auth", "auth.mechanisms",
        "auth.submission.smtps_port", "dnsbl[0]", "access.clients", "access.helo", "access.senders",
        "access.recipients", "header_checks[0]", "smtp.banner", "smtp.disable_vrfy", "smtp.disable_expn",
        "smtp.require_helo", "smtp.strict_envelopes", "smtp.max_message_size", "smtp.max_recipients",
        "smtp.max_connections_per_client", "tls", "tls.min_protocol",
    }
    assert status(result, "access.helo") == "unsupported"
    assert status(result, "dnsbl[0]") == "unsupported"  # Mailbox-only: no server can query a DNSBL


# --- relay ------------------------------------------------------------------------------------


NETWORK = "networks: {trusted: [192.0.2.0/24]}\n"


def test_relay_connector_is_limited_to_trusted_networks() -> None:
    result = plan("networks: {trusted: [127.0.0.0/8, '::1/128', 192.0.2.0/24, '2001:db8::/32']}\n")
    context = script(result)
    relay = settings(context["relay"])
    assert context["trusted"] == ("127.0.0.0/8", "::1/128", "192.0.2.0/24", "2001:db8::/32")  # what the audit allows
    assert relay["RemoteIPRanges"] == ["192.0.2.0/24", "2001:db8::/32"]  # loopback is the server itself
    assert status(result, "networks.trusted") == "approximated"
    assert relay["PermissionGroups"] == ["AnonymousUsers"]
    assert relay["Bindings"] == ["0.0.0.0:25", "[::]:25"]
    assert context["relay_name"] == "mtaharden relay"


def test_relay_connector_knobs() -> None:
    context = script(plan(NETWORK + "targets: {exchange: {relay_connector: App Relay, relay_bindings: [192.0.2.25, "
                          "'2001:db8::25'], relay_port: 2526}}\n"))
    assert context["relay_name"] == "App Relay"
    assert settings(context["relay"])["Bindings"] == ["192.0.2.25:2526", "[2001:db8::25]:2526"]


@pytest.mark.parametrize("name", ["a\\b", "x'y", "$(evil)", " lead", "trail ", "x" * 65, ""])
def test_relay_connector_name_is_strict(name: str) -> None:
    with pytest.raises(PolicyError):
        load_policy_text(f"targets: {{exchange: {{relay_connector: {name!r}}}}}\n", "policy.yml")


def test_no_trusted_networks_means_no_relay_connector() -> None:
    result = plan("networks: {trusted: []}\n")
    assert script(result)["relay"] is None
    assert status(result, "networks.trusted") == "enforced"
    assert script(plan())["relay"] is None  # the default trusts loopback only


def test_a_relay_port_exchange_itself_uses_is_unsupported() -> None:
    result = plan(NETWORK + "targets: {exchange: {relay_port: 2525}}\n")
    assert script(result)["relay"] is None
    assert status(result, "networks.trusted") == "unsupported"


def test_only_the_relay_connector_grants_anonymous_relay() -> None:
    context = script(plan(SUBMISSION))
    assert "AnonymousUsers" not in settings(context["client_frontend"])["PermissionGroups"]
    assert "ExternalAuthoritative" not in str(context)


# --- Default and Client Frontend --------------------------------------------------------------


@pytest.mark.parametrize(("role", "anonymous"), [("mx", True), ("relay-only", True), ("mx+submission", True),
                                                 ("submission", False), ("null-client", False)])
def test_default_frontend_takes_anonymous_mail_only_for_inbound_roles(role: str, anonymous: bool) -> None:
    text = f"role: {role}\n" + ("auth: {enabled: true}\n" + TLS if "submission" in role else "")
    groups = settings(script(plan(text))["default_frontend"])["PermissionGroups"]
    assert ("AnonymousUsers" in groups) is anonymous
    assert "ExchangeServers" in groups


def test_default_frontend_offers_user_auth_only_when_enabled() -> None:
    assert settings(script(plan())["default_frontend"])["AuthMechanism"] == ["Tls", "ExchangeServer"]
    mechanisms = settings(script(plan(SUBMISSION))["default_frontend"])["AuthMechanism"]
    assert mechanisms == ["Tls", "Integrated", "BasicAuth", "BasicAuthRequireTLS", "ExchangeServer"]


def test_client_frontend_requires_tls_for_basic_auth() -> None:
    client = settings(script(plan(SUBMISSION))["client_frontend"])
    assert client["AuthMechanism"] == ["Tls", "Integrated", "BasicAuth", "BasicAuthRequireTLS"]
    assert client["PermissionGroups"] == ["ExchangeUsers"]
    assert client["Bindings"] == ["0.0.0.0:587", "[::]:587"]
    assert client["RequireTLS"] is True and client["Enabled"] is True
    relaxed = settings(script(plan(SUBMISSION.replace("{enabled: true}", "{enabled: true, require_tls: false}")))
                       ["client_frontend"])
    assert "BasicAuthRequireTLS" not in relaxed["AuthMechanism"]


def test_client_frontend_is_switched_off_without_submission() -> None:
    assert script(plan("role: mx\n"))["client_frontend"] == Connector((("Enabled", False),))


def test_submission_on_a_port_exchange_holds_moves_to_587() -> None:
    result = plan(SUBMISSION.replace("{enabled: true}", "{enabled: true, submission: {port: 465, smtps_port: null}}"))
    assert settings(script(result)["client_frontend"])["Bindings"] == ["0.0.0.0:587", "[::]:587"]
    assert status(result, "auth.submission.port") == "approximated"
    assert status(plan(SUBMISSION), "auth.submission.smtps_port") == "approximated"


def test_banner_fqdn_and_limits() -> None:
    result = plan(NETWORK + "hostname: mx1.example.org\nsmtp: {banner: '{hostname} ESMTP ready', "
                  "max_message_size: 50MiB, max_recipients: 250, max_connections_per_client: 7}\n")
    front = settings(script(result)["default_frontend"])
    assert front["Banner"] == Concat(("220 ", Variable("fqdn"), " ESMTP ready"))
    assert front["Fqdn"] == Variable("fqdn")
    assert (front["MaxMessageSize"], front["MaxRecipientsPerMessage"]) == ("50MB", 250)
    assert (front["MaxInboundConnectionPerSource"], front["RequireEHLODomain"]) == (7, True)
    assert script(result)["hostname"] == "mx1.example.org"
    assert "RequireEHLODomain" not in settings(script(result)["relay"])  # devices may EHLO with a bare name


@pytest.mark.parametrize(("size", "text", "exact"), [
    ("10MiB", "10MB", True), ("100KiB", "100KB", True), ("100000", "100000B", True),
    ("1KiB", "64KB", False), ("4GiB", "2147483647B", False),
    ("25MiB", "25MB", False),  # above the organization's default MaxReceiveSize (10 MB), which also applies
])
def test_message_size_in_exchange_units(size: str, text: str, exact: bool) -> None:
    result = plan(f"smtp: {{max_message_size: {size}}}\n")
    assert settings(script(result)["default_frontend"])["MaxMessageSize"] == text
    assert status(result, "smtp.max_message_size") == ("enforced" if exact else "approximated")


def test_require_tls_on_port_25_only_when_inbound_is_encrypt() -> None:
    assert settings(script(plan(TLS))["default_frontend"])["RequireTLS"] is False
    encrypt = TLS.replace("}", ", inbound: encrypt}")
    assert settings(script(plan(encrypt))["default_frontend"])["RequireTLS"] is True


def test_tls_1_3_minimum_is_unsupported_and_says_which_versions_have_it() -> None:
    result = plan(TLS.replace("}", ", min_protocol: TLSv1.3}"))
    assert status(result, "tls.min_protocol") == "unsupported"
    (item,) = [c for c in result.coverage if c.element == "tls.min_protocol"]
    assert "2019 CU15" in item.detail and "Windows Server 2022" in item.detail
    assert "does not support TLS 1.3" not in item.detail


# --- accepted domains -------------------------------------------------------------------------


def test_accepted_domains_by_kind() -> None:
    result = plan("domains: {local: [example.org, .sub.example.org], relay: [relay.example.org]}\n")
    domains = [settings(d) for d in script(result)["accepted_domains"]]
    assert domains == [
        {"Name": "example.org", "DomainName": "example.org", "DomainType": "Authoritative"},
        {"Name": "sub.example.org subdomains", "DomainName": "*.sub.example.org", "DomainType": "Authoritative"},
        {"Name": "relay.example.org", "DomainName": "relay.example.org", "DomainType": "InternalRelay"},
    ]
    assert status(result, "domains.local") == "approximated"
    assert status(result, "domains.relay") == "enforced"


def test_long_domain_names_get_unique_short_object_names() -> None:
    first, second = ("a" * 60 + f"{n}.example.org" for n in (1, 2))
    domains = [settings(d) for d in script(plan(f"domains: {{local: [{first}, {second}]}}\n"))["accepted_domains"]]
    names = [d["Name"] for d in domains]
    assert all(len(name) <= 64 for name in names) and len(set(names)) == 2


# --- transport rules --------------------------------------------------------------------------

ACCESS = """\
access:
  clients: [{match: 192.0.2.0/24, action: reject, message: go away}, {match: 198.51.100.0/24, action: permit}]
  helo: [{match: localhost, action: reject}]
  senders: [{match: "@spam.example", action: defer}]
  recipients: [{match: "postmaster@", action: permit}]
header_checks:
  - {header: Subject, pattern: "(?i)make money", action: reject, message: no spam}
  - {header: X-Mailer, pattern: "^Mass", action: discard}
  - {header: X-Test, pattern: test, action: warn}
"""


def test_rules_run_header_checks_first_then_access_in_postfix_order() -> None:
    assert list(rules(plan(ACCESS))) == [
        "mtaharden header_checks[0]", "mtaharden header_checks[1]", "mtaharden header_checks[2]",
        "mtaharden access.clients[0]", "mtaharden access.clients[1]", "mtaharden access.recipients[0]",
        "mtaharden access.senders[0]",
    ]


def test_rule_conditions_and_actions() -> None:
    found = rules(plan(ACCESS))
    subject = found["mtaharden header_checks[0]"]
    assert (subject["HeaderMatchesMessageHeader"], subject["HeaderMatchesPatterns"]) == ("Subject", ["(?i)make money"])
    assert subject["DeleteMessage"] is True  # after acceptance: no NDR to a forged sender
    assert found["mtaharden header_checks[1]"]["DeleteMessage"] is True
    assert found["mtaharden header_checks[2]"]["Mode"] == "Audit"
    client = found["mtaharden access.clients[0]"]
    assert (client["SenderIpRanges"], client["DeleteMessage"]) == (["192.0.2.0/24"], True)
    permit = found["mtaharden access.clients[1]"]
    assert permit["SetSCL"] == -1
    sender = found["mtaharden access.senders[0]"]
    assert sender["SenderAddressLocation"] == "Envelope"
    assert sender["DeleteMessage"] is True
    # the earlier permits are the later rejections' exceptions, so no rule stops rule processing
    assert (sender["ExceptIfSenderIpRanges"], sender["ExceptIfRecipientAddressMatchesPatterns"]) == (
        ["198.51.100.0/24"], ["(?i)^postmaster@"])
    assert "ExceptIfSenderIpRanges" not in client
    assert found["mtaharden access.recipients[0]"]["RecipientAddressMatchesPatterns"] == ["(?i)^postmaster@"]
    assert not any("StopRuleProcessing" in rule for rule in found.values())
    assert [name for name, rule in found.items() if "RejectMessageReasonText" in rule] == [
        "mtaharden header_checks[2]"]  # warn: Mode Audit only logs, it never sends an NDR


def test_every_rule_carries_a_fingerprint_of_its_settings() -> None:
    before = rules(plan(ACCESS))["mtaharden access.clients[0]"]["Comments"]
    after = rules(plan(ACCESS.replace("192.0.2.0/24", "192.0.2.0/25")))["mtaharden access.clients[0]"]["Comments"]
    assert re.fullmatch(r"mtaharden [0-9a-f]{16}", before) and before != after


def test_access_and_header_coverage() -> None:
    result = plan(ACCESS)
    assert status(result, "access.clients") == "approximated"
    assert status(result, "header_checks[0]") == "approximated"  # Mailbox: deleted after acceptance, not refused
    assert status(result, "header_checks[1]") == "enforced"
    on_edge = plan(ACCESS + "targets: {exchange: {deployment: edge}}\n")
    assert status(on_edge, "header_checks[0]") == "enforced"  # Edge rule: refused in the SMTP session
    assert status(plan("header_checks: [{header: Subject, pattern: x, action: hold}]\n"), "header_checks[0]") \
        == "unsupported"


def test_a_pattern_net_cannot_read_is_unsupported_and_left_out() -> None:
    result = plan("header_checks: [{header: Subject, pattern: '[\\W.]', action: reject}]\n")
    assert status(result, "header_checks[0]") == "unsupported"
    assert rules(result) == {}


@pytest.mark.parametrize(("pattern", "address", "matches"), [
    ("user@example.org", "User@Example.org", True), ("user@example.org", "xuser@example.org", False),
    ("user@example.org", "user@example.org.evil", False), ("@example.org", "a@example.org", True),
    ("@example.org", "a@sub.example.org", False), ("example.org", "b@example.org", True),
    ("postmaster@", "postmaster@anywhere.example", True), ("postmaster@", "xpostmaster@a.example", False),
    ("a.b+c@example.org", "aXb+c@example.org", False),
])
def test_address_patterns_become_anchored_regexes(pattern: str, address: str, matches: bool) -> None:
    assert bool(re.search(address_regex(pattern), address)) is matches


# --- the .NET dialect -------------------------------------------------------------------------


@pytest.mark.parametrize(("pattern", "dotnet"), [
    ("(?i)make money fast", "(?i)make money fast"),
    ("end$", "end\\z"),
    ("a.b", "a[\\s\\S]b"),
    ("\\w\\D[\\d.]", "[0-9A-Za-z_][^0-9][0-9\\.]"),
    ("[\\]a]{2}", "[\\]a]{2}"),
    ("[\\[]+", "[\\[]+"),
    ("[[:xdigit:]]", "[0-9A-Fa-f]"),
    ("\\++", "\\++"),
    ("(?:a|b)+?", "(?:a|b)+?"),
    ("x{2,}", "x{2,}"),
])
def test_dotnet_regex_translates(pattern: str, dotnet: str) -> None:
    assert dotnet_regex(pattern) == dotnet


@pytest.mark.parametrize("pattern", ["a++", "a*+", "a?+", "a{2}+", "a{,2}+", "\\U0001F600", "[a-[b]]", "[\\W]"])
def test_dotnet_regex_refuses_what_net_lacks(pattern: str) -> None:
    with pytest.raises(Unexpressible):
        dotnet_regex(pattern)


# --- DNSBL, antispam and Edge -----------------------------------------------------------------


def test_mailbox_only_dnsbl_is_unsupported_and_installs_nothing() -> None:
    result = plan("dnsbl: [{zone: zen.spamhaus.org}]\n")
    assert script(result)["antispam"] is None
    assert status(result, "dnsbl[0]") == "unsupported"
    assert [gap.element for gap in result.unwaived_gaps([])] == ["dnsbl[0]", *BARE_NEWLINES]  # stated: a waiver
    assert script(plan())["antispam"] is None


def test_mailbox_only_sender_rejections_go_to_the_sender_filter() -> None:
    result = plan('access: {senders: [{match: "@spam.example", action: reject}, {match: "bad@x.example", '
                  'action: reject}]}\n')
    antispam = script(result)["antispam"]
    assert isinstance(antispam, MailboxAntispam)
    assert antispam.agents == ("Sender Filter Agent",)
    found = settings(antispam.sender_filter)
    assert (found["Action"], found["BlockedDomains"], found["BlockedSenders"]) == (
        "Reject", ["spam.example"], ["bad@x.example"])
    (item,) = [c for c in result.coverage if c.element == "access.senders"]
    assert "refused at MAIL FROM" in item.detail
    edge_plan = plan('access: {senders: [{match: "@spam.example", action: reject}]}\n'
                     "targets: {exchange: {deployment: edge}}\n")
    assert script(edge_plan)["antispam"] is None  # Edge's Sender Filter does it there


def test_edge_block_list_providers() -> None:
    section = edge("dnsbl: [{zone: zen.spamhaus.org, match: ['127.0.0.[2..4]', '127.0.0.10'], "
                   "message: 'Blocked: {client} listed at {zone}'}, {zone: bl.example.org, action: defer}]\n")
    first, second = (settings(p) for p in section.providers)
    assert first["LookupDomain"] == "zen.spamhaus.org"
    assert (first["AnyMatch"], first["BitmaskMatch"]) == (False, None)  # reset what an earlier run or admin set
    assert first["IPAddressesMatch"] == ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.10"]
    assert first["RejectionResponse"] == "Blocked: your address listed at zen.spamhaus.org"
    assert (first["Priority"], second["Priority"]) == (1, 2)
    assert len(second["IPAddressesMatch"]) == 254  # the default 127.0.0.[2..255]
    assert "Connection Filtering Agent" in section.agents


def test_edge_dnsbl_coverage() -> None:
    result = plan("dnsbl: [{zone: a.example.org, match: ['127.0.0.2'], message: 'listed at {zone}'}, "
                  "{zone: b.example.org, action: defer}, {zone: c.example.org, match: ['127.0.[0..9].[2..255]']}]\n"
                  "targets: {exchange: {deployment: edge}}\n")
    assert [status(result, f"dnsbl[{i}]") for i in range(3)] == ["enforced", "approximated", "unsupported"]


def test_edge_filters_take_only_rejections_no_permit_exempts() -> None:
    section = edge("""\
access:
  senders: [{match: "friend@spam.example", action: permit}, {match: "@spam.example", action: reject},
            {match: "@other.example", action: reject}, {match: "bad@x.example", action: defer},
            {match: "root@", action: reject}]
  recipients: [{match: "nobody@example.org", action: reject}]
""")
    assert section.sender_filter is not None and section.recipient_filter is not None
    sender = settings(section.sender_filter)
    assert sender["BlockedDomains"] == ["other.example"]  # spam.example would also block the permitted friend
    assert sender["BlockedSenders"] == ["bad@x.example"]  # root@ (any domain) stays with the transport rules
    assert settings(section.recipient_filter)["BlockedRecipients"] == ["nobody@example.org"]


def test_an_earlier_stage_permit_keeps_later_stages_off_the_edge_filters() -> None:
    section = edge('access: {recipients: [{match: "postmaster@", action: permit}], '
                   'senders: [{match: "@spam.example", action: reject}]}\n')
    assert section.sender_filter is None and section.recipient_filter is None


def test_edge_ip_lists_and_bypassed_recipients() -> None:
    section = edge("""\
domains: {local: [example.org, .sub.example.org]}
dnsbl: [{zone: zen.spamhaus.org}]
access:
  clients: [{match: 192.0.2.0/24, action: reject}, {match: 198.51.100.7, action: permit}]
  recipients: [{match: "postmaster@", action: permit}, {match: "abuse@example.net", action: permit}]
""")
    assert [settings(e)["IPRange"] for e in section.block_list] == ["192.0.2.0/24"]
    assert [settings(e)["Comment"] for e in section.allow_list] == ["mtaharden access.clients 198.51.100.7/32"]
    assert section.providers_config is not None
    assert settings(section.providers_config)["BypassedRecipients"] == ["postmaster@example.org", "abuse@example.net"]


# --- quoting filters --------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "text"), [
    ("plain", "'plain'"),
    ("O'Brien", "'O''Brien'"),
    ("a\u2019b", "'a\u2019\u2019b'"),
    ('say "$(whoami)" `n; rm', "'say \"$(whoami)\" `n; rm'"),
    (True, "$true"), (False, "$false"), (None, "$null"), (-1, "-1"), (200, "200"),
    (["a", "b'c"], "@('a', 'b''c')"), ([], "@()"),
    (Variable("fqdn"), "$fqdn"),
    (Concat(("220 ", Variable("fqdn"), "")), "('220 ' + $fqdn)"),
])
def test_ps_value_quotes_everything_inertly(value: Any, text: str) -> None:
    assert ps_value(value) == text


@pytest.mark.parametrize("value", ["line\nbreak", "nul\x00", "tab\t", "cr\r", "next\u2028line", "zero\u200bwidth",
                                   "bidi\u202eflip", Variable("a;b")])
def test_ps_value_refuses_what_could_break_a_line(value: Any) -> None:
    with pytest.raises(Unexpressible) as refused:  # the kit's one error: a RenderError, exit 2 in the CLI
        ps_value(value)
    assert isinstance(refused.value, RenderError)


@pytest.mark.parametrize("value", ["nul\x00", "next\u2028line", "zero\u200bwidth"])
def test_md_code_refuses_unfit_text(value: str) -> None:
    with pytest.raises(Unexpressible, match="Markdown"):
        md_code(value)


@pytest.mark.parametrize(("value", "text"), [("x", "`x`"), ("a`b", "`` a`b ``"), ("``", "``` `` ```")])
def test_md_code_fences_backticks(value: str, text: str) -> None:
    assert md_code(value) == text


# --- deployment kind, the servers' own addresses, reconciled settings ---------------------------


@pytest.mark.parametrize(("text", "where"), [
    ("targets: {exchange: {deployment: hub}}\n", "policy.yml:1:34: targets.exchange.deployment"),
    ("targets: {exchange: {edge: true}}\n", "policy.yml:1:22: targets.exchange.edge"),
    ("targets: {exchange: {server_addresses: [192.0.2.0/24]}}\n", "targets.exchange.server_addresses.0"),
])
def test_deployment_and_server_addresses_are_strict(text: str, where: str) -> None:
    with pytest.raises(PolicyError) as caught:
        load_policy_text(text, "policy.yml")
    assert where in str(caught.value)


def test_mailbox_is_the_default_deployment() -> None:
    assert load_policy_text("", "policy.yml").targets.exchange.deployment == "mailbox"
    assert script(plan())["edge"] is None


def test_servers_own_addresses_stay_off_the_relay_connector() -> None:
    result = plan("networks: {trusted: [192.0.2.0/24, '2001:db8::/64']}\n"
                  "targets: {exchange: {server_addresses: [192.0.2.0, 192.0.2.7, '2001:db8::5', 198.51.100.1]}}\n")
    assert settings(script(result)["relay"])["RemoteIPRanges"] == [
        "192.0.2.1-192.0.2.6", "192.0.2.8-192.0.2.255", "2001:db8::-2001:db8::4",
        "2001:db8::6-2001:db8::ffff:ffff:ffff:ffff"]
    (item,) = [c for c in result.coverage if c.element == "networks.trusted"]
    assert "192.0.2.0, 192.0.2.7, 2001:db8::5" in item.detail and "198.51.100.1" not in item.detail


def test_a_wide_trusted_range_is_warned_about() -> None:
    wide = plan("networks: {trusted: [10.0.0.0/16, 192.0.2.0/24]}\n")
    assert list(script(wide)["relay_warnings"]) == [
        "10.0.0.0/16 is a wide range for anonymous relay: every host in it that is not listed in "
        "targets.exchange.server_addresses (an Exchange or Edge server, a load balancer's SNAT address) reaches "
        "the relay connector; list the hosts that relay instead"]
    assert status(wide, "networks.trusted") == "approximated"
    assert script(plan(NETWORK))["relay_warnings"] == ()


def test_stock_connectors_reconcile_what_the_policy_owns() -> None:
    context = script(plan(SUBMISSION))
    front, client = context["default_frontend"], context["client_frontend"]
    assert not {"PermissionGroups", "AuthMechanism", "Bindings"} & set(dict(front.settings))
    assert not {"PermissionGroups", "AuthMechanism", "Bindings"} & set(dict(client.settings))
    assert owned(front, "PermissionGroups") == ("AnonymousUsers", "ExchangeServers", "ExchangeLegacyServers")
    assert "ExternalAuthoritative" not in owned(front, "AuthMechanism")  # the audit reports it instead
    assert owned(client, "PermissionGroups") == ("ExchangeUsers", "AnonymousUsers")
    assert client.bindings is not None and client.bindings.port == 587


def test_coverage_differs_between_mailbox_and_edge() -> None:
    text = ("dnsbl: [{zone: zen.spamhaus.org, match: ['127.0.0.2']}]\n"
            "header_checks: [{header: Subject, pattern: spam, action: reject}]\n")
    mailbox, on_edge = plan(text).coverage, plan(text + "targets: {exchange: {deployment: edge}}\n").coverage
    differing = {a.element for a, b in zip(mailbox, on_edge, strict=True) if a != b}
    assert differing == {"dnsbl[0]", "header_checks[0]"}


# --- one decision per gap: the recorder, the typed contexts ---------------------------------

EVERYTHING = (SUBMISSION + "domains: {local: [example.org, .sub.example.org], relay: [relay.example.org]}\n"
              "networks: {trusted: [127.0.0.0/8, 10.0.0.0/8]}\n"
              "dnsbl: [{zone: zen.spamhaus.org}, {zone: b.example.org, match: ['127.[0..9].[0..9].[0..9]']}]\n"
              "access: {clients: [{match: 192.0.2.0/24, action: reject}], helo: [{match: bad.example, action: reject}],"
              " senders: [{match: '@spam.example', action: reject}], recipients: [{match: 'x@example.org', action: "
              "permit}]}\n"
              "header_checks: [{header: Subject, pattern: '[\\W.]', action: reject}, {header: Subject, pattern: spam, "
              "action: hold}, {header: Subject, pattern: ham, action: warn}]\n")


@pytest.mark.parametrize("deployment", ["mailbox", "edge"])
def test_coverage_is_in_the_policy_order_each_element_once(deployment: str) -> None:
    result = plan(EVERYTHING + f"targets: {{exchange: {{deployment: {deployment}}}}}\n")
    elements = [item.element for item in result.coverage]
    assert len(elements) == len(set(elements))
    assert elements[:5] == ["role", "hostname", "domains.local", "domains.relay", "networks.trusted"]
    assert elements.index("dnsbl[1]") < elements.index("access.clients") < elements.index("access.helo") \
        < elements.index("access.senders") < elements.index("access.recipients") < elements.index("header_checks[0]") \
        < elements.index("header_checks[2]") < elements.index("smtp.banner") < elements.index("tls.min_protocol")
    (coverage,) = [f for f in result.files if f.path == "COVERAGE.md"]
    assert tuple(coverage.context["coverage"]) == result.coverage  # type: ignore[index]


def test_a_gap_decided_in_lowering_matches_what_is_written() -> None:
    """The header check Exchange cannot express, and the DNSBL a Mailbox server cannot query, write nothing."""
    result = plan(EVERYTHING)
    status = {item.element: item.status for item in result.coverage}
    names = [rule.name for rule in script(result)["transport_rules"]]
    assert (status["header_checks[0]"], status["header_checks[1]"]) == ("unsupported", "unsupported")
    assert "mtaharden header_checks[0]" not in names and "mtaharden header_checks[1]" not in names
    assert "mtaharden header_checks[2]" in names and status["header_checks[2]"] == "enforced"
    edge_plan = plan(EVERYTHING + "targets: {exchange: {deployment: edge}}\n")
    assert [p[1][1] for p in script(edge_plan)["edge"].providers] == ["zen.spamhaus.org"]
    assert {e: s for e, s in ((c.element, c.status) for c in edge_plan.coverage) if e.startswith("dnsbl")} == {
        "dnsbl[0]": "approximated", "dnsbl[1]": "unsupported"}  # 1000 return codes are too many to list


def test_the_guide_context_is_typed_and_holds_no_policy() -> None:
    result = plan(EVERYTHING)
    (planned,) = [f for f in result.files if f.path == "GUIDE.md"]
    guide = planned.context
    assert isinstance(guide, Guide)
    values = vars(guide)
    assert not [name for name, value in values.items() if isinstance(value, Policy)]
    assert guide.gaps == tuple(c for c in result.coverage if c.status != "enforced")
    assert (guide.disable_vrfy, guide.relay_connector, guide.relay_domains) == ("true", "mtaharden relay",
                                                                              ("relay.example.org",))


def test_dnsbl_return_codes_are_the_kits_address_sets() -> None:
    section = edge("dnsbl: [{zone: zen.spamhaus.org, match: ['127.0.0.[4;2]', '127.0.0.[2..3]']}]\n")
    assert settings(section.providers[0])["IPAddressesMatch"] == ["127.0.0.2", "127.0.0.4", "127.0.0.3"]
