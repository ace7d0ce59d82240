"""The Cyrus SASL settings both Postfix and Sendmail write: one decision, each target's layout."""

from __future__ import annotations

import dataclasses

import pytest

from mtaharden.policy.model import Auth
from mtaharden.targets.kit.sasl import DEFAULT_SASLDB, CyrusConf, cyrus_conf, saslauthd_sockets


def test_saslauthd_names_the_method_and_mechanisms_only() -> None:
    conf = cyrus_conf(Auth.model_validate({"enabled": True, "mechanisms": ["PLAIN", "LOGIN"]}))
    assert conf == CyrusConf("saslauthd", None, (("pwcheck_method", "saslauthd"), ("mech_list", "PLAIN LOGIN")))


def test_auxprop_opens_the_sasldb_named_or_libsasl2s_default() -> None:
    named = cyrus_conf(Auth.model_validate({"cyrus": {"pwcheck_method": "auxprop", "sasldb_path": "/srv/sasldb"},
                                            "mechanisms": ["PLAIN"]}))
    assert named.sasldb == "/srv/sasldb"
    assert named.lines == (("pwcheck_method", "auxprop"), ("mech_list", "PLAIN"), ("auxprop_plugin", "sasldb"),
                           ("sasldb_path", "/srv/sasldb"))
    default = cyrus_conf(Auth.model_validate({"cyrus": {"pwcheck_method": "auxprop"}}))
    assert default.sasldb == DEFAULT_SASLDB == "/etc/sasldb2" and default.lines[-1] == ("sasldb_path", DEFAULT_SASLDB)


def test_a_sasldb_path_is_ignored_with_saslauthd() -> None:
    conf = cyrus_conf(Auth.model_validate({"cyrus": {"sasldb_path": "/srv/sasldb"}}))
    assert conf.sasldb is None and all(key != "sasldb_path" for key, _ in conf.lines)


def test_the_settings_are_a_template_context_with_its_lines_as_a_field() -> None:
    conf = cyrus_conf(Auth())
    assert "lines" in {field.name for field in dataclasses.fields(conf)}
    with pytest.raises(dataclasses.FrozenInstanceError):
        conf.lines = ()  # type: ignore[misc]


def test_saslauthd_sockets_inside_a_chroot() -> None:
    assert saslauthd_sockets() == ("/run/saslauthd/mux", "/var/run/saslauthd/mux")
    assert saslauthd_sockets("/var/spool/postfix") == ("/var/spool/postfix/run/saslauthd/mux",
                                                       "/var/spool/postfix/var/run/saslauthd/mux")
