"""targets.postfix.parameters is an allow-list: each parameter's value kind, canonical form and refusals.

The real Postfix reads every allowed parameter back in tests/robustness/test_redteam_parameters.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from mtaharden.policy import PolicyError, load_policy_text
from mtaharden.policy.options.postfix.parameters import ALLOWED, MANAGED_PARAMETERS, POLICY_KEYS, canonical
from mtaharden.policy.types import PolicyValueError
from mtaharden.targets.base import Plan
from mtaharden.targets.postfix import PostfixTarget
from mtaharden.targets.postfix.main_cf import MainCf
from tests.conftest import REPO

REFUSED = "this parameter is not managed safely by mtaharden"


def reference_table() -> str:
    """The README's table of allowed parameters, as the data says it."""
    rows = [f"| `{p.name}` | {p.kind.describe()} | {p.why} |" for p in sorted(ALLOWED.values(), key=lambda p: p.name)]
    return "\n".join(["| parameter | value | why it cannot open a relay or change who is trusted |",
                      "|---|---|---|", *rows])


def refusal(name: str, value: Any) -> PolicyError:
    with pytest.raises(PolicyError) as caught:
        load_policy_text(f"targets:\n  postfix:\n    parameters:\n      {name}: {value}\n", "p.yml")
    return caught.value


def site_section(plan: Plan) -> list[tuple[str, str]]:
    (main_cf,) = [f.context for f in plan.files if f.path == "main.cf"]
    assert isinstance(main_cf, MainCf)
    title, parameters = main_cf.sections[-1]
    assert title == "Site parameters (targets.postfix.parameters)"
    lines = [(name, value) for name, value in parameters if isinstance(value, str)]
    assert len(lines) == len(parameters)  # a site value is one line, never a list
    return lines


def test_the_readme_lists_exactly_the_allow_list() -> None:
    readme = (REPO / "README.md").read_text()
    assert reference_table() in readme, "regenerate the README table from tests/unit/test_postfix_site_parameters.py"


def test_the_allow_list_is_a_reviewed_size_and_holds_nothing_mtaharden_writes() -> None:
    assert 30 <= len(ALLOWED) <= 80
    assert not set(ALLOWED) & MANAGED_PARAMETERS
    assert set(POLICY_KEYS) <= MANAGED_PARAMETERS  # every hint names a parameter the target really writes
    for name in ALLOWED:  # the families that decide relaying, trust, identity or locations stay out
        assert not any(word in name for word in ("restrictions", "mynetworks", "relay", "sasl", "smtpd_tls",
                                                  "proxy", "xclient", "xforward", "peername", "directory",
                                                  "_path", "environment", "mailbox_command", "transport", "domains",
                                                  "recipient_maps", "owner", "privs")), name


@pytest.mark.parametrize("name", sorted(ALLOWED))
def test_every_example_is_valid_and_already_canonical(name: str) -> None:
    parameter = ALLOWED[name]
    assert canonical(name, parameter.example) == parameter.example
    assert parameter.why and parameter.kind.describe()


@pytest.mark.parametrize(("name", "given", "written"), [
    ("smtp_skip_5xx_greeting", "true", "yes"),  # YAML boolean
    ("smtp_skip_5xx_greeting", "'YES'", "yes"),
    ("enable_long_queue_ids", "false", "no"),
    ("header_size_limit", "0102400", "102400"),
    ("header_size_limit", "102400", "102400"),  # YAML integer
    ("maximal_queue_lifetime", "'007d'", "7d"),
    ("delay_warning_time", "0h", "0h"),
    ("notify_classes", "'resource,software  bounce'", "resource, software, bounce"),
    ("notify_classes", "''", ""),
    ("alias_maps", "'hash:/etc/aliases,btree:/etc/postfix/aliases'", "hash:/etc/aliases, btree:/etc/postfix/aliases"),
    ("alias_maps", "''", ""),
    ("smtpd_reject_footer", "'\\c Call us ($client_address, ${localtime}); costs $$5'",
     "\\c Call us ($client_address, ${localtime}); costs $$5"),
    ("unknown_local_recipient_reject_code", "450", "450"),
    ("smtp_tls_protocols", "'>=TLSv1.3'", ">=TLSv1.3"),
])
def test_values_are_written_in_their_canonical_form(name: str, given: str, written: str) -> None:
    policy = load_policy_text(f"targets: {{postfix: {{parameters: {{{name}: {given}}}}}}}\n", "p.yml")
    assert site_section(PostfixTarget().plan(policy)) == [(name, written)]


def test_site_parameters_are_written_last_in_name_order() -> None:
    policy = load_policy_text("targets: {postfix: {parameters: {smtpd_timeout: 60s, bounce_queue_lifetime: 1d}}}\n",
                              "p.yml")
    assert site_section(PostfixTarget().plan(policy)) == [("bounce_queue_lifetime", "1d"), ("smtpd_timeout", "60s")]


# (parameter, value, what the refusal says): values that are not of the parameter's kind, or that try
# to carry a second parameter, a comment, a $parameter expansion or a table that reads anything.
BAD_VALUES = [
    ("smtp_skip_5xx_greeting", "'yes # no'", "is not yes or no"),
    ("smtp_skip_5xx_greeting", "'$smtpd_use_tls'", "is not yes or no"),
    ("smtp_skip_5xx_greeting", "'1'", "is not yes or no"),
    ("header_size_limit", "-1", "is not a whole number"),
    ("header_size_limit", "'1e6'", "is not a whole number"),
    ("header_size_limit", "'10, smtpd_relay_restrictions = permit'", "is not a whole number"),
    ("header_size_limit", "1024", "is not a whole number from 10240"),
    ("header_size_limit", "2147483648", "is not a whole number"),
    ("header_size_limit", "'$message_size_limit'", "is not a whole number"),
    ("smtp_tls_loglevel", "5", "from 0 to 4"),
    ("maximal_queue_lifetime", "5", "with its unit"),
    ("maximal_queue_lifetime", "'5D'", "with its unit"),
    ("maximal_queue_lifetime", "'5d 3h'", "with its unit"),
    ("maximal_queue_lifetime", "'${maximal_backoff_time}'", "with its unit"),
    ("maximal_queue_lifetime", "'4000w'", "with its unit"),  # more seconds than Postfix's int holds
    ("in_flow_delay", "'11s'", "from 0s to 10s"),
    ("smtpd_timeout", "'0s'", "at least 1s"),
    ("smtp_tls_ciphers", "'medium, high'", "is not one of"),
    ("smtp_tls_ciphers", "low", "is not one of"),
    ("notify_classes", "'bounce, $notify_classes'", "is not one of"),
    ("notify_classes", "'bounce bounce'", "a word repeats"),
    ("alias_maps", "'static:all'", "is not a table"),
    ("alias_maps", "'hash:/etc/aliases, proxy:unix:passwd.byname'", "is not a table"),
    ("alias_maps", "'texthash:/etc/shadow'", "is not a table"),
    ("alias_maps", "'cdb:/etc/aliases'", "is not a table"),  # not in Debian's postfix package
    ("alias_maps", "'hash:etc/aliases'", "is not a table"),
    ("alias_maps", "'hash:/etc/../etc/shadow'", "is not a table"),
    ("alias_maps", "'hash:/etc//aliases'", "is not a table"),
    ("alias_maps", "'hash:$config_directory/aliases'", "is not a table"),
    ("alias_maps", "'inline:{root=attacker@example.net}'", "is not a table"),
    ("alias_maps", "'ldap:/etc/postfix/ldap.cf'", "is not a table"),
    ("alias_database", "'hash:/etc/aliases #'", "is not a table"),
    ("smtpd_reject_footer", "'$mynetworks'", "uses $ other than"),
    ("smtpd_reject_footer", "'${mynetworks}'", "uses $ other than"),
    ("smtpd_reject_footer", "'${client_address?$mynetworks}'", "uses $ other than"),
    ("smtpd_reject_footer", "'$(client_address)'", "uses $ other than"),
    ("smtpd_reject_footer", "'costs $5'", "uses $ other than"),
    ("smtpd_reject_footer", "'trailing $'", "uses $ other than"),
    ("smtpd_reject_footer", "'$client_addressx'", "uses $ other than"),
    ("smtpd_reject_footer", "'" + "x" * 201 + "'", "longer than 200"),
]


@pytest.mark.parametrize(("name", "value", "says"), BAD_VALUES, ids=[f"{n}={v}" for n, v, _ in BAD_VALUES])
def test_a_value_not_of_its_kind_is_refused_at_its_place(name: str, value: str, says: str) -> None:
    (problem,) = refusal(name, value).problems
    assert problem.path == f"targets.postfix.parameters.{name}"
    assert (problem.source, problem.line) == ("p.yml", 4)
    assert says in problem.message, problem.message
    assert problem.hint


@pytest.mark.parametrize(("name", "reason"), [
    ("smtpd_upstream_proxy_protocol", "decides who a client is"),
    ("smtpd_authorized_verp_clients", "relaying, trust"),
    ("smtpd_client_event_limit_exceptions", "relaying, trust"),
    ("smtpd_peername_lookup", "decides who a client is"),
    ("daemon_directory", "Postfix runs programs"),
    ("shlib_directory", "Postfix runs programs"),
    ("sendmail_path", "Postfix runs programs"),
    ("mail_owner", "a user it runs as"),
    ("default_privs", "a user it runs as"),
    ("queue_directory", "keeps its queue"),
    ("maillog_file", "writes its log"),
    ("import_environment", "environment"),
    ("export_environment", "environment"),
    ("virtual_alias_domains", "accepted domains"),
    ("local_recipient_maps", "recipients"),
    ("relayhost", "relaying"),
    ("soft_bounce", "replies of the policy's own refusals"),
    ("access_map_reject_code", "replies of the policy's own refusals"),
    ("mailbox_command", "runs a program"),
    ("always_bcc", "copies"),
    ("body_checks", "filters"),
    ("smtp_tls_cert_file", "TLS"),
    ("mydomain", "only parameters known not to affect"),
])
def test_a_parameter_off_the_list_is_refused_with_its_reason(name: str, reason: str) -> None:
    (problem,) = refusal(name, "x").problems
    assert problem.path == f"targets.postfix.parameters.{name}"
    assert problem.message.startswith(f"{name}: {REFUSED}; "), problem.message
    assert reason in problem.message, problem.message
    assert "README.md" in problem.hint


@pytest.mark.parametrize("name", sorted(MANAGED_PARAMETERS))
def test_a_parameter_mtaharden_writes_is_refused_with_the_policy_key_to_use(name: str) -> None:
    (problem,) = refusal(name, "no").problems
    assert problem.message == f"{name}: {REFUSED}; mtaharden writes it itself"
    key = POLICY_KEYS.get(name)
    assert problem.hint == (f"set {key} in the policy instead" if key else
                            "leave it out: mtaharden fixes it so that relaying stays closed")


def test_the_target_refuses_a_value_that_bypassed_validation() -> None:
    """A plan is built only from a checked policy; were it not, the value still never reaches main.cf."""
    with pytest.raises(PolicyValueError, match=REFUSED):
        canonical("smtpd_upstream_proxy_protocol", "haproxy")
