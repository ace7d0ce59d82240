"""The Postfix target's decisions, read from its Plan (no templates, no files)."""

from __future__ import annotations

import re
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from mtaharden.policy import PolicyError, load_policy_text
from mtaharden.policy.options.postfix.parameters import MANAGED_PARAMETERS
from mtaharden.targets.base import Plan
from mtaharden.targets.kit.sasl import CyrusConf
from mtaharden.targets.postfix import PostfixTarget
from mtaharden.targets.postfix.capabilities import DOMAIN_TABLE_MIN
from mtaharden.targets.postfix.header_checks import escape_delimiter
from mtaharden.targets.postfix.main_cf import WRITTEN, MainCf
from mtaharden.targets.postfix.master_cf import DEBIAN_SERVICES, MasterCf, MasterRow
from mtaharden.targets.postfix.tables import Table
from tests.conftest import need_real_mta, render_policy

TLS = "tls: {cert: /etc/ssl/certs/mx1.pem, key: /etc/ssl/private/mx1.key}\n"
ACCESS = """\
access:
  clients: [{match: 192.0.2.0/24, action: permit}, {match: 198.51.100.0/24, action: reject, message: go away}]
  helo: [{match: localhost, action: reject}]
  senders: [{match: "@spam.example", action: reject}, {match: "friend@example.com", action: permit}]
  recipients: [{match: "postmaster@", action: permit}]
"""


def plan(text: str = "") -> Plan:
    return PostfixTarget().plan(load_policy_text(text, "policy.yml"))


def sections(result: Plan) -> MainCf:
    (context,) = [f.context for f in result.files if f.path == "main.cf"]
    assert isinstance(context, MainCf)
    return context


def main_cf(result: Plan) -> dict[str, Any]:
    return sections(result).values()


def services(result: Plan) -> list[MasterRow]:
    (context,) = [f.context for f in result.files if f.path == "master.cf"]
    assert isinstance(context, MasterCf)
    return list(context.services)


def inet(result: Plan) -> dict[str, MasterRow]:
    return {s.service: s for s in services(result) if s.type == "inet"}


def table(result: Plan, path: str) -> list[tuple[str, str]]:
    (context,) = [f.context for f in result.files if f.path == path]
    assert isinstance(context, (Table, CyrusConf))
    return list(context.lines)


def as_list(value: str | list[str]) -> list[str]:
    return value if isinstance(value, list) else [v.strip() for v in value.split(",") if v.strip()]


# --- relay control ----------------------------------------------------------------------------


def test_relay_restrictions_without_auth() -> None:
    assert main_cf(plan())["smtpd_relay_restrictions"] == ["permit_mynetworks", "reject_unauth_destination"]


@pytest.mark.parametrize("role", ["mx", "mx+submission", "relay-only"])
def test_relay_restrictions_with_auth(role: str) -> None:
    params = main_cf(plan(f"role: {role}\nauth: {{enabled: true}}\n" + TLS))
    assert params["smtpd_relay_restrictions"] == [
        "permit_mynetworks", "permit_sasl_authenticated", "reject_unauth_destination",
    ]


def test_access_rules_never_reach_relay_restrictions() -> None:
    params = main_cf(plan(ACCESS + "dnsbl: [{zone: zen.spamhaus.org}]\n"))
    relay = as_list(params["smtpd_relay_restrictions"])
    assert not any("access" in step or "rbl" in step or step in ("permit", "OK") for step in relay)
    recipient = as_list(params["smtpd_recipient_restrictions"])
    for stage in ("client", "helo", "sender", "recipient"):
        assert any(step.startswith(f"check_{stage}_access ") for step in recipient), stage
    assert recipient[-1] == "permit"


def test_every_relay_relevant_parameter_is_explicit() -> None:
    params = main_cf(plan())
    for name in ("mydestination", "relay_domains", "mynetworks", "mynetworks_style", "smtpd_relay_restrictions",
                 "smtpd_recipient_restrictions", "permit_mx_backup_networks", "allow_untrusted_routing",
                 "smtpd_authorized_xclient_hosts", "smtpd_authorized_xforward_hosts", "smtpd_sasl_auth_enable"):
        assert name in params, name
    assert params["mynetworks_style"] == "host"
    assert params["permit_mx_backup_networks"] == ""
    assert params["allow_untrusted_routing"] == "no"
    assert params["smtpd_sasl_auth_enable"] == "no"


def test_domains() -> None:
    result = plan("domains: {local: [example.org, .sub.example.org], relay: [dept.example.net]}\n")
    params = main_cf(result)
    assert as_list(params["mydestination"]) == ["$myhostname", "localhost", "example.org",
                                                "regexp:$config_directory/local_subdomains"]
    assert as_list(params["relay_domains"]) == ["dept.example.net"]
    assert params["parent_domain_matches_subdomains"] == ""
    # mydestination compares plain names as strings: a .domain entry reaches its subdomains through a regexp table
    assert table(result, "local_subdomains") == [("/\\.sub\\.example\\.org$/", "OK")]


def test_mynetworks_brackets_ipv6() -> None:
    params = main_cf(plan('networks:\n  trusted: [127.0.0.0/8, "::1/128", "2001:db8::/48", 192.0.2.7]\n'))
    assert as_list(params["mynetworks"]) == ["127.0.0.0/8", "[::1]/128", "[2001:db8::]/48", "192.0.2.7/32"]


def test_hostname_is_set_only_when_given() -> None:
    assert "myhostname" not in main_cf(plan())
    assert main_cf(plan("hostname: MX1.Example.org\n"))["myhostname"] == "mx1.example.org"


# --- banner and protocol ----------------------------------------------------------------------


def test_banner_dollar_is_doubled_and_hostname_expands() -> None:
    params = main_cf(plan('smtp: {banner: "{hostname} ESMTP costs $0 $mail_name"}\n'))
    assert params["smtpd_banner"] == "$myhostname ESMTP costs $$0 $$mail_name"


def test_protocol_settings_follow_the_policy() -> None:
    params = main_cf(plan("smtp: {disable_vrfy: false, require_helo: false, strict_envelopes: false, "
                          "max_message_size: 10MB, max_recipients: 7, max_connections_per_client: 3}\n"))
    assert params["disable_vrfy_command"] == "no"
    assert params["smtpd_helo_required"] == "no"
    assert params["strict_rfc821_envelopes"] == "no"
    assert params["message_size_limit"] == "10000000"
    assert params["smtpd_recipient_limit"] == "7"
    assert params["smtpd_client_connection_count_limit"] == "3"
    recipient = as_list(params["smtpd_recipient_restrictions"])
    assert "reject_non_fqdn_sender" not in recipient and "reject_invalid_helo_hostname" not in recipient


# --- DNSBL ------------------------------------------------------------------------------------


def test_one_reject_rbl_client_per_filter() -> None:
    result = plan('dnsbl:\n  - {zone: zen.spamhaus.org, match: ["127.0.0.[2..11]", "127.0.0.[2;4]"]}\n'
                  "  - {zone: bl.example.net}\n")
    recipient = as_list(main_cf(result)["smtpd_recipient_restrictions"])
    rbl = [step for step in recipient if step.startswith("reject_rbl_client ")]
    assert rbl == [
        "reject_rbl_client zen.spamhaus.org=127.0.0.[2..11]",
        "reject_rbl_client zen.spamhaus.org=127.0.0.[2;4]",
        "reject_rbl_client bl.example.net=127.0.0.[2..255]",
    ]
    # DNSBLs come after the trusted/AUTH bypass, so they never block your own clients
    assert recipient.index("permit_mynetworks") < recipient.index(rbl[0])


def test_rbl_replies_are_found_under_the_restriction_argument() -> None:
    result = plan('dnsbl:\n  - {zone: zen.spamhaus.org, match: ["127.0.0.[2..11]"], action: defer,\n'
                  '     message: "Try later: {client} is on {zone} ($5 fee)"}\n')
    params = main_cf(result)
    assert params["rbl_reply_maps"] == "texthash:$config_directory/rbl_reply"
    arguments = {step.removeprefix("reject_rbl_client ")
                 for step in as_list(params["smtpd_recipient_restrictions"]) if step.startswith("reject_rbl_client")}
    lines = table(result, "rbl_reply")
    assert {key for key, _ in lines} == arguments
    assert lines[0][1] == "450 4.7.1 Try later: ${client_address} is on ${rbl_domain} ($$5 fee)"


def test_no_dnsbl_means_no_rbl_reply_map() -> None:
    result = plan()
    assert main_cf(result)["rbl_reply_maps"] == ""
    assert all(f.path != "rbl_reply" for f in result.files)


# --- maps and post-install steps --------------------------------------------------------------


def test_map_types() -> None:
    params = main_cf(plan(ACCESS + 'header_checks: [{header: Subject, pattern: "x"}]\n'))
    recipient = as_list(params["smtpd_recipient_restrictions"])
    assert "check_client_access cidr:$config_directory/client_access.cidr" in recipient
    assert "check_helo_access hash:$config_directory/helo_access" in recipient
    assert "check_sender_access hash:$config_directory/sender_access" in recipient
    assert "check_recipient_access hash:$config_directory/recipient_access" in recipient
    assert params["header_checks"] == "pcre:$config_directory/header_checks.pcre"


def test_postmap_steps_only_for_hash_tables() -> None:
    result = plan(ACCESS + 'header_checks: [{header: Subject, pattern: "x"}]\ndnsbl: [{zone: zen.spamhaus.org}]\n'
                  "targets: {postfix: {config_dir: /srv/postfix}}\n")
    postmap = [step.argv for step in result.steps if step.argv[0] == "postmap"]
    assert postmap == [
        ("postmap", "-c", "/srv/postfix", "hash:/srv/postfix/helo_access"),
        ("postmap", "-c", "/srv/postfix", "hash:/srv/postfix/sender_access"),
        ("postmap", "-c", "/srv/postfix", "hash:/srv/postfix/recipient_access"),
    ]
    indexed = " ".join(" ".join(argv) for argv in postmap)
    for unindexed in ("client_access.cidr", "header_checks.pcre", "rbl_reply"):
        assert unindexed in {f.path for f in result.files}
        assert unindexed not in indexed
    assert [step.argv[-1] for step in result.steps if step.argv[0] == "postfix"] == ["check", "reload"]
    assert all(step.argv[1:3] == ("-c", "/srv/postfix") for step in result.steps if step.argv[0] != "sh")
    assert any("postconf -c /srv/postfix -h mail_version" in step.argv[-1] for step in result.steps)  # the version
    assert all(step.why for step in result.steps)


def test_no_tables_no_postmap() -> None:
    result = plan()
    assert [(step.phase, step.argv[0]) for step in result.steps] == [
        ("check", "postconf"), ("check", "postconf"), ("check", "postfix"), ("check", "sh"), ("apply", "postfix")]
    assert {f.path for f in result.files} == {"main.cf", "master.cf", "COVERAGE.md"}


def test_access_values() -> None:
    result = plan(ACCESS)
    assert table(result, "client_access.cidr") == [("192.0.2.0/24", "OK"), ("198.51.100.0/24", "REJECT go away")]
    assert table(result, "sender_access") == [("spam.example", "REJECT"), ("friend@example.com", "OK")]
    assert table(result, "recipient_access") == [("postmaster@", "OK")]
    assert table(result, "helo_access") == [("localhost", "REJECT")]


def test_helo_address_gets_the_literal_form_too() -> None:
    result = plan('access:\n  helo: [{match: "[192.0.2.9]", action: defer}]\n')
    assert table(result, "helo_access") == [("192.0.2.9", "DEFER"), ("[192.0.2.9]", "DEFER")]


def test_helo_ipv6_keys_do_not_depend_on_the_first_digit() -> None:
    result = plan('access:\n  helo: [{match: "fe80::1", action: reject}, {match: "2001:db8::1", action: reject}]\n')
    keys = [key for key, _ in table(result, "helo_access")]
    assert keys == ["fe80::1", "[fe80::1]", "[ipv6:fe80::1]", "2001:db8::1", "[2001:db8::1]", "[ipv6:2001:db8::1]"]


# --- header checks ----------------------------------------------------------------------------


def test_header_check_line() -> None:
    result = plan('header_checks:\n  - {header: X-Mailer, pattern: "a/b", action: discard}\n'
                  '  - {header: Subject, pattern: "money", message: "no spam"}\n')
    (first, second) = table(result, "header_checks.pcre")
    assert first[0].startswith("/^(?i:X-Mailer):") and first[0].endswith("/i")
    assert "a\\/b" in first[0]
    assert first[1] == "DISCARD"
    assert second[1] == "REJECT no spam"
    assert re.search(first[0][1:-2].replace("\\/", "/"), "X-Mailer: foo a/b bar")


def test_header_check_message_dollar_is_escaped() -> None:
    result = plan('header_checks: [{header: Subject, pattern: "x", message: "costs $5"}]\n')
    assert table(result, "header_checks.pcre")[0][1] == "REJECT costs $$5"


@pytest.mark.parametrize(
    ("pattern", "escaped"),
    [
        ("a/b", "a\\/b"),
        ("a\\/b", "a\\/b"),  # already escaped: left alone
        ("a\\\\/b", "a\\\\\\/b"),  # an escaped backslash, then a bare slash: the slash is escaped
        ("//", "\\/\\/"),
        ("[/]", "[\\/]"),
        ("no slash", "no slash"),
        ("\\\\\\/", "\\\\\\/"),  # escaped backslash, then an escaped slash
        ("", ""),
    ],
)
def test_escape_delimiter(pattern: str, escaped: str) -> None:
    assert escape_delimiter(pattern) == escaped


def test_escape_delimiter_other_delimiter() -> None:
    assert escape_delimiter("a#b/c", "#") == "a\\#b/c"


# --- master.cf --------------------------------------------------------------------------------


def test_mx_has_only_the_smtp_listener() -> None:
    listeners = inet(plan())
    assert list(listeners) == ["smtp"]
    assert listeners["smtp"].program == "smtpd" and listeners["smtp"].args == ()


def test_null_client_listens_nowhere() -> None:
    result = plan("role: null-client\n")
    assert inet(result) == {}
    params = main_cf(result)
    assert params["inet_interfaces"] == "loopback-only"
    assert params["mydestination"] == ""
    assert params["local_transport"].startswith("error:")


def test_submission_role_has_no_port_25() -> None:
    listeners = inet(plan("role: submission\nauth: {enabled: true}\n" + TLS))
    assert set(listeners) == {"submission", "smtps"}


@pytest.mark.parametrize("name", ["submission", "smtps"])
def test_submission_services_require_authentication(name: str) -> None:
    service = inet(plan("role: mx+submission\nauth: {enabled: true}\n" + TLS))[name]
    assert "-o smtpd_relay_restrictions=permit_sasl_authenticated,reject" in service.args
    assert "-o smtpd_recipient_restrictions=permit_sasl_authenticated,reject" in service.args
    assert "-o smtpd_sasl_auth_enable=yes" in service.args
    assert "-o smtpd_tls_security_level=encrypt" in service.args
    assert ("-o smtpd_tls_wrappermode=yes" in service.args) == (name == "smtps")


def test_submission_ports_and_smtp_port_name_the_services() -> None:
    result = plan("role: mx+submission\nauth: {enabled: true, submission: {port: 2587, smtps_port: null}}\n"
                  + TLS + "targets: {postfix: {smtp_port: 2525}}\n")
    assert list(inet(result)) == ["2525", "2587"]


def test_chroot_off_everywhere() -> None:
    result = plan("targets: {postfix: {chroot: false}}\n")
    assert {s.chroot for s in services(result)} == {"n"}
    assert any(s.chroot == "y" for s in services(plan()))


def test_internal_services_are_always_present() -> None:
    names = {(s.service, s.type) for s in services(plan("role: null-client\n"))}
    assert {("pickup", "unix"), ("cleanup", "unix"), ("qmgr", "unix"), ("smtp", "unix"), ("local", "unix")} <= names


# --- SASL and TLS -----------------------------------------------------------------------------


def test_cyrus_sasl_file() -> None:
    result = plan("auth: {enabled: true, require_tls: false, mechanisms: [PLAIN, CRAM-MD5],\n"
                  "       cyrus: {pwcheck_method: auxprop, sasldb_path: /etc/sasldb2}}\n")
    assert table(result, "sasl/smtpd.conf") == [
        ("pwcheck_method", "auxprop"), ("mech_list", "PLAIN CRAM-MD5"),
        ("auxprop_plugin", "sasldb"), ("sasldb_path", "/etc/sasldb2"),
    ]
    params = main_cf(result)
    assert params["smtpd_sasl_type"] == "cyrus"
    assert params["smtpd_sasl_auth_enable"] == "yes"
    assert params["smtpd_tls_auth_only"] == "no"


def test_dovecot_has_no_cyrus_file() -> None:
    result = plan("auth: {enabled: true, backend: dovecot}\n" + TLS)
    assert all(not f.path.startswith("sasl/") for f in result.files)
    params = main_cf(result)
    assert (params["smtpd_sasl_type"], params["smtpd_sasl_path"]) == ("dovecot", "private/auth")
    assert params["smtpd_tls_auth_only"] == "yes"


def test_tls_parameters() -> None:
    params = main_cf(plan(TLS.replace("}", ", inbound: encrypt, min_protocol: TLSv1.3}")))
    assert params["smtpd_tls_cert_file"] == "/etc/ssl/certs/mx1.pem"
    assert params["smtpd_tls_key_file"] == "/etc/ssl/private/mx1.key"
    assert params["smtpd_tls_security_level"] == "encrypt"
    assert params["smtpd_tls_protocols"] == ">=TLSv1.3"
    assert main_cf(plan())["smtpd_tls_security_level"] == "none"


# --- coverage and files -----------------------------------------------------------------------


def test_coverage_names_each_policy_element() -> None:
    result = plan(ACCESS + "dnsbl: [{zone: a.example}, {zone: b.example}]\n"
                  'header_checks: [{header: Subject, pattern: "x"}]\nsmtp: {disable_expn: false}\n')
    statuses = {item.element: item.status for item in result.coverage}
    assert {"dnsbl[0]", "dnsbl[1]", "header_checks[0]", "access.clients", "access.helo", "access.senders",
            "access.recipients", "networks.trusted", "auth", "tls", "smtp.banner"} <= set(statuses)
    assert statuses["smtp.disable_expn"] == "approximated"
    assert set(statuses.values()) <= {"enforced", "approximated", "unsupported"}
    assert result.unwaived_gaps([]) == []


def test_plan_files_are_described_fully() -> None:
    result = plan(ACCESS)
    paths = [f.path for f in result.files]
    assert len(paths) == len(set(paths))
    assert paths[:2] == ["main.cf", "master.cf"] and paths[-1] == "COVERAGE.md"
    assert all(f.mode == 0o644 for f in result.files)
    assert {f.path: f.comment for f in result.files}["COVERAGE.md"] == "markdown"
    assert result.target == "postfix" and result.apply == "reload"


def test_plan_is_deterministic() -> None:
    text = ACCESS + "dnsbl: [{zone: a.example}]\n"
    assert plan(text) == plan(text)


def test_the_policy_refuses_as_site_parameters_exactly_what_main_cf_lays_out() -> None:
    assert WRITTEN == MANAGED_PARAMETERS  # the policy cannot import the target: the two sets are held equal here


def test_every_parameter_main_cf_writes_is_managed() -> None:
    text = ("role: null-client\nauth: {enabled: true, require_tls: false}\ntls: {cert: /c.pem, key: /k.pem}\n"
            "dnsbl: [{zone: bl.example.org}]\nheader_checks: [{header: Subject, pattern: x}]\n"
            "hostname: mx.example.org\n")
    written = set(main_cf(plan(text))) | set(main_cf(plan(text.replace("null-client", "mx"))))
    defaults = {"alias_maps", "alias_database"}  # Debian's defaults, which a site parameter may replace
    assert written - defaults <= WRITTEN, written - defaults - WRITTEN


def test_debian_alias_defaults_are_written_unless_the_site_sets_them() -> None:
    assert main_cf(plan("version: 1\n"))["alias_maps"] == "hash:/etc/aliases"
    result = plan("targets: {postfix: {parameters: {alias_maps: 'hash:/etc/postfix/aliases'}}}\n")
    site = main_cf(result)
    assert site["alias_maps"] == "hash:/etc/postfix/aliases"
    assert site["alias_database"] == "hash:/etc/aliases"
    names = [name for _, parameters in sections(result).sections for name, _ in parameters]
    assert names.count("alias_maps") == 1  # written once, so postconf has no "overriding earlier entry"


def test_site_parameters_are_written_last_and_cannot_touch_relaying() -> None:
    result = plan("targets: {postfix: {parameters: {maximal_queue_lifetime: 3d, smtp_skip_5xx_greeting: false}}}\n")
    assert sections(result).sections[-1] == ("Site parameters (targets.postfix.parameters)",
                                             (("maximal_queue_lifetime", "3d"), ("smtp_skip_5xx_greeting", "no")))
    for name in ("mynetworks", "smtpd_recipient_restrictions", "virtual_alias_domains", "relayhost",
                 "smtpd_sasl_auth_enable", "smtpd_authorized_xclient_hosts"):
        with pytest.raises(PolicyError) as caught:
            load_policy_text(f"targets: {{postfix: {{parameters: {{{name}: x}}}}}}\n", "p.yml")
        assert caught.value.problems[0].path == f"targets.postfix.parameters.{name}"


# --- domain tables, master.cf rows, one coverage recorder --------------------------------------


def test_domain_lists_move_to_a_hash_table_past_the_threshold() -> None:
    def domains(count: int) -> str:
        names = ", ".join(f"d{n}.example.org" for n in range(count))
        return f"domains: {{local: [{names}], relay: [{names.replace('.org', '.net')}]}}\n"

    inline, indexed = plan(domains(DOMAIN_TABLE_MIN)), plan(domains(DOMAIN_TABLE_MIN + 1))
    assert len(as_list(main_cf(inline)["relay_domains"])) == DOMAIN_TABLE_MIN
    assert not any(f.path.endswith("_domains") for f in inline.files)
    params = main_cf(indexed)
    assert as_list(params["mydestination"]) == ["$myhostname", "localhost", "hash:$config_directory/local_domains"]
    assert params["relay_domains"] == "hash:$config_directory/relay_domains"
    (relay,) = [f.context for f in indexed.files if f.path == "relay_domains"]
    assert isinstance(relay, Table) and len(relay.blocks[0].keys) == DOMAIN_TABLE_MIN + 1
    assert relay.blocks[0].value == "OK"
    assert [s.argv[-1] for s in indexed.steps if s.argv[0] == "postmap"] == [
        "hash:/etc/postfix/local_domains", "hash:/etc/postfix/relay_domains"]
    details = {item.element: item.detail for item in indexed.coverage}
    assert f"more than {DOMAIN_TABLE_MIN} names" in details["domains.relay"]
    assert "names" not in {item.element: item.detail for item in inline.coverage}["domains.relay"]


def test_coverage_is_recorded_once_per_element_in_policy_order() -> None:
    result = plan(ACCESS + "dnsbl: [{zone: a.example}]\n" + 'header_checks: [{header: Subject, pattern: "x"}]\n')
    assert [item.element for item in result.coverage] == [
        "role", "hostname", "domains.local", "domains.relay", "networks.trusted", "auth", "dnsbl[0]",
        "access.clients", "access.helo", "access.senders", "access.recipients", "header_checks[0]",
        "smtp.banner", "smtp.disable_vrfy", "smtp.disable_expn", "smtp.require_helo", "smtp.strict_envelopes",
        "smtp.max_message_size", "smtp.max_recipients", "smtp.max_connections_per_client", "smtp.bare_newlines",
        "smtp.bare_newlines_exempt_trusted", "tls", "screening",
        "outbound.tls", "sender_auth.spf", "sender_auth.dkim", "sender_auth.dmarc", "dkim_signing"]


def test_master_rows_are_keyword_records_with_postfix_defaults() -> None:
    row = MasterRow("relay", "unix", chroot="y", command="smtp")
    assert (row.private, row.unpriv, row.wakeup, row.maxproc, row.program) == ("-", "-", "-", "-", "smtp")
    assert MasterRow("pickup", "unix").program == "pickup"
    unchrooted = services(plan("targets: {postfix: {chroot: false}}\n"))
    internal = [s for s in unchrooted if s.type != "inet"]
    assert len(internal) == len(DEBIAN_SERVICES)
    for debian, written in zip(DEBIAN_SERVICES, internal, strict=True):  # only the chroot column changes
        assert written == (replace(debian, chroot="n") if debian.chroot == "y" else debian)


def test_restart_key_follows_master_cf() -> None:
    base = plan().service
    moved = plan("targets: {postfix: {smtp_port: 2525}}\n").service
    assert base is not None and moved is not None
    assert base.restart_key != moved.restart_key
    assert base.restart_key == plan("smtp: {max_recipients: 7}\n").service.restart_key  # type: ignore[union-attr]


def test_postfix_reads_a_dot_domain_local_entry_as_its_subdomains_only(tmp_path: Path) -> None:
    """The regexp table as Postfix's own dict_regexp reads it (postmap -q): subdomains match, the name
    itself and a look-alike suffix do not."""
    need_real_mta("postmap")
    _, out = render_policy({"version": 1, "domains": {"local": ["example.org", ".sub.example.org"]}}, tmp_path)
    table = f"regexp:{out / 'local_subdomains'}"

    def found(name: str) -> bool:
        result = subprocess.run(["postmap", "-c", str(out), "-q", name, table], capture_output=True, text=True,
                                timeout=30)
        assert result.returncode in (0, 1) and "warning" not in result.stderr, result.stderr
        return result.returncode == 0 and result.stdout.strip() == "OK"

    assert found("a.sub.example.org") and found("A.B.Sub.Example.ORG")
    assert not found("sub.example.org") and not found("xsub.example.org") and not found("a.sub.example.org.evil")
