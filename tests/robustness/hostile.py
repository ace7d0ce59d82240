"""The injection suite's inputs: hostile text, and every place a policy takes text.

:data:`BASE` is a valid policy with a value at every text field of the model; :func:`text_fields`
walks the model, so a field added to the contract without a place here fails the suite. A hostile
value goes into a field as :func:`placed` says (after ``{hostname} `` in the banner, under ``/etc/``
in a path), so what decides is the value, not a missing prefix.
"""

from __future__ import annotations

import copy
import json
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from mtaharden.policy import Policy, PolicyError, load_policy_text
from mtaharden.policy.lists import EntryFile

FieldPath = tuple[str | int, ...]

# Characters no configuration line may carry: every field must refuse them at validation.
LINE_BREAKERS = ("line\nbreak", "nul\x00byte", "carriage\rreturn", "tab\tstop", "escape\x1b[31m", "delete\x7f",
                 "next\u0085line", "separator\u2028here", "non-ascii \u00e9", "lone \ud800 surrogate")
# Fields that take printable non-ASCII text on purpose (header text, written as ASCII forms per charset).
NON_ASCII = "non-ascii \u00e9"
TEXT_FIELDS: tuple[FieldPath, ...] = (("header_checks", 0, "pattern"),)
# Printable text that means something to one target's format or tool.
HOSTILE = (
    "hash # comment", "key = value", "a, b; c", "colon: here", "`m4' quotes", "dnl rest of line",
    "esyscmd(echo injected >&2)", "errprint(injected)", "include(/etc/passwd)", "LOCAL_CONFIG divert(1) m4exit",
    "$v $j $$ ${client_address}", "costs $5, says $v", "; rm -rf / | cat & echo `id` > /tmp/x",
    "$(Remove-Item C:\\) `$x @' here '@",
    "\"double\" 'single' \\back\\", "%s %n {} [] <>", "escaped \\n\\r\\0 text",
)
# What the include() above would leave in an output had it run (the commands above write to stderr,
# which the tools' checks refuse).
PASSWD_LINE = Path("/etc/passwd").read_text().splitlines()[0]

# A dict field's key and value are separate fields (BASE has one site parameter).
KEY, VALUE = "<name>", "<value>"
# The fields that take printable text (the others take names, addresses, paths...): each target's
# suite fills them all with one hostile string and reads them back with the MTA's tool.
WRITTEN: tuple[FieldPath, ...] = (
    ("smtp", "banner"), *(("access", stage, 0, "message") for stage in ("clients", "helo", "senders", "recipients")),
    ("dnsbl", 0, "message"), ("header_checks", 0, "pattern"), ("header_checks", 0, "message"),
    ("targets", "postfix", "parameters", VALUE), ("targets", "exchange", "relay_connector"),
)
# Free text no MTA target writes, read back by its own suite: the client settings files (tests/clients).
READ_BACK_ELSEWHERE: tuple[FieldPath, ...] = (("clients", "display_name"),)
BASE: dict[str, Any] = {
    "hostname": "mx.example.org",
    "role": "mx+submission",
    "domains": {"local": ["example.org"], "relay": ["relay.example.org"]},
    "networks": {"trusted": ["192.0.2.0/24"]},
    "auth": {"enabled": True, "cyrus": {"pwcheck_method": "auxprop", "sasldb_path": "/etc/sasldb2"},
             "dovecot_socket": "private/auth"},
    "tls": {"cert": "/etc/ssl/certs/mx.pem", "key": "/etc/ssl/private/mx.key"},
    "dnsbl": [{"zone": "bl.example.net", "match": ["127.0.0.2"], "message": "Blocked: {client} listed at {zone}"}],
    "access": {
        "clients": [{"match": "198.51.100.0/24", "action": "reject", "message": "client refused"}],
        "helo": [{"match": "bad.example.net", "action": "reject", "message": "helo refused"}],
        "senders": [{"match": "@spam.example.net", "action": "reject", "message": "sender refused"}],
        "recipients": [{"match": "nobody@example.org", "action": "reject", "message": "recipient refused"}],
    },
    "header_checks": [{"header": "Subject", "pattern": "make money", "action": "reject", "message": "spam",
                       "charsets": ["utf-8"]}],
    "smtp": {"banner": "{hostname} ESMTP"},
    "screening": {"enabled": True, "dnsbl": {"sites": [{"zone": "wl.example.net", "match": ["127.0.[0..255].[1..3]"],
                                                        "weight": -5}]},
                  "allow": ["203.0.113.0/24"]},
    "sender_auth": {"spf": {"enabled": True, "on_fail": "reject"}, "dkim": {"enabled": True},
                    "dmarc": {"enabled": True, "honour_reject": True}},
    "dkim_signing": [{"domain": "example.org", "selector": "s2026", "key": "/etc/dkimkeys/example.private"}],
    "published": {"domains": ["example.org"], "spf": {"hosts": ["mx.example.org"], "networks": ["192.0.2.0/24"]},
                  "dmarc": {"rua": ["mailto:dmarc@example.org"], "ruf": ["mailto:dmarc@example.org"]},
                  "mta_sts": {"mx": ["mx.example.org"]}, "tls_rpt": {"rua": ["mailto:tlsrpt@example.org"]}},
    "clients": {"domain": "example.org", "display_name": "Example mail", "incoming": [{"host": "imap.example.org"}]},
    "targets": {
        "postfix": {"allow_unsupported": ["tls"], "config_dir": "/etc/postfix", "version": "3.7.11",
                    "milter_dir": "/etc", "inet_interfaces": ["all"],
                    "parameters": {"smtpd_reject_footer": "footer"}},
        "sendmail": {"allow_unsupported": ["tls", "screening.dnsbl"],
                     "settings_dir": "/etc/mail", "milter_dir": "/etc",
                     "cf_dir": "/usr/share/sendmail/cf", "version": "8.17.1.9",
                     "sendmail": "/usr/sbin/sendmail", "makemap": "/usr/sbin/makemap", "ca_path": "/etc/ssl/certs",
                     "ca_file": "/etc/ssl/certs/ca.crt", "sasl_dir": "/etc/sasl2", "listen_address": "192.0.2.25",
                     "queue_dir": "/var/spool/mqueue", "pid_file": "/run/sendmail.pid",
                     "status_file": "/var/lib/sendmail/st", "help_file": "/etc/mail/helpfile",
                     "alias_file": "/etc/mail/aliases"},
        "qmail": {"allow_unsupported": ["tls", "screening", "sender_auth", "dkim_signing"], "home": "/var/qmail",
                  "tcp_rules_file": "/etc/tcp.smtp",
                  "service_dir": "/service", "log_dir": "/var/log/qmail/smtpd", "smtpd_user": "qmaild",
                  "log_user": "qmaill", "listen": "0.0.0.0", "checkpassword": "/bin/checkpassword"},
        "exim": {"allow_unsupported": ["tls", "sender_auth.dmarc"], "config_dir": "/etc/exim4",
                 "exim": "/usr/sbin/exim4", "version": "4.96",
                 "user": "Debian-exim", "sasl_dir": "/etc/sasl2", "dovecot_socket": "/run/dovecot/auth-client",
                 "dnssec_probe": "org"},
        "opensmtpd": {"allow_unsupported": ["tls", "screening", "sender_auth", "dkim_signing"],
                      "config_file": "/etc/smtpd.conf"},
        "exchange": {"allow_unsupported": ["tls", "screening", "sender_auth", "dkim_signing"], "servers": ["ex01"],
                     "server_addresses": ["192.0.2.5"],
                     "relay_connector": "mtaharden relay",
                     "relay_bindings": ["192.0.2.25"]},
        "messaging_server": {"allow_unsupported": ["tls"]}, "imail": {"allow_unsupported": ["tls"]},
        "domino": {"allow_unsupported": ["tls"]},
        "procmail": {"allow_unsupported": ["tls"], "rc_file": "/etc/procmailrc", "maildir": "$HOME/Maildir",
                     "junk_folder": "Junk", "quarantine_folder": "Quarantine", "tag_header": "X-Mtaharden-Filter"},
        "sieve": {"allow_unsupported": ["tls"], "script_file": "/etc/dovecot/sieve/mtaharden.sieve",
                  "junk_folder": "Junk", "quarantine_folder": "Quarantine", "tag_header": "X-Mtaharden-Filter"},
    },
}


def text_fields(model: type[BaseModel] = Policy, prefix: FieldPath = ()) -> set[FieldPath]:
    """Every place of ``model`` that takes text (lists at item 0; a dict's key and value apart)."""
    return {path for name, field in model.model_fields.items() for path in _leaves(field.annotation, (*prefix, name))}


def _leaves(annotation: Any, path: FieldPath) -> set[FieldPath]:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _leaves(args[0], path)
    if origin in (typing.Union, types.UnionType):
        return set().union(*(_leaves(arg, path) for arg in args))
    if origin is list:
        return _leaves(args[0], (*path, 0))
    if origin is dict:
        return {(*path, KEY), *_leaves(args[1], (*path, VALUE))}
    if origin is typing.Literal or annotation in (bool, int, type(None), EntryFile):  # a list file is read, not written
        return set()
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return text_fields(annotation, path)
    return {path}


def base_fields(node: Any = BASE, path: FieldPath = ()) -> Iterator[FieldPath]:
    """The text fields :data:`BASE` fills in, by the conventions of :func:`text_fields`."""
    if isinstance(node, dict) and path[-1:] == ("parameters",):
        yield from ((*path, KEY), (*path, VALUE))
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from base_fields(value, (*path, key))
    elif isinstance(node, list):
        yield from base_fields(node[0], (*path, 0))
    elif isinstance(node, str):
        yield path


def placed(path: FieldPath, hostile: str) -> str:
    """The hostile text as it goes into the field at ``path``."""
    base = base_value(path)
    if path == ("smtp", "banner"):
        return "{hostname} " + hostile
    return "/etc/" + hostile if base.startswith("/") else hostile


def base_value(path: FieldPath) -> str:
    node: Any = BASE
    for step in path:
        node = next(iter(node.items()))[0 if step == KEY else 1] if step in (KEY, VALUE) else node[step]
    return str(node)


def with_value(path: FieldPath, value: Any, data: dict[str, Any] | None = None) -> dict[str, Any]:
    """A copy of ``data`` (BASE by default) with ``value`` at ``path`` (a key: text; a value: any YAML value)."""
    changed = copy.deepcopy(BASE if data is None else data)
    node: Any = changed
    for step in path[:-1]:
        node = node[step]
    if path[-1] == KEY:
        node.clear()
        node[value] = base_value((*path[:-1], VALUE))
    elif path[-1] == VALUE:
        node[next(iter(node))] = value
    else:
        node[path[-1]] = value
    return changed


def as_file(data: dict[str, Any]) -> str:
    """The policy as the file the suite writes: JSON (which is YAML), one value per line."""
    return json.dumps(data, indent=1)


def refusal(data: dict[str, Any]) -> PolicyError | None:
    try:
        load_policy_text(as_file(data), "policy.yml")
    except PolicyError as exc:
        return exc
    return None


def accepted_everywhere(hostile: str, fields: tuple[FieldPath, ...]) -> tuple[dict[str, Any], list[FieldPath]]:
    """BASE with ``hostile`` in each of ``fields`` that accepts it, and which fields those are."""
    data, taken = copy.deepcopy(BASE), list[FieldPath]()
    for path in fields:
        candidate = with_value(path, placed(path, hostile), data)
        if refusal(candidate) is None:
            data, taken = candidate, [*taken, path]
    return data, taken
