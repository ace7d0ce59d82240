"""The relay stance: one plain sentence derived from the Policy, the same in every format."""

from __future__ import annotations

import pytest

from mtaharden.policy import load_policy, load_policy_text
from mtaharden.review.stance import relay_stance
from tests.conftest import EXAMPLE_POLICY

TLS = "tls: {cert: /etc/ssl/mx.pem, key: /etc/ssl/mx.key}\n"


def test_the_example_policy() -> None:
    assert relay_stance(load_policy(EXAMPLE_POLICY)) == (
        "relays only for 202.112.57.0/24 and authenticated users; accepts mail for example.edu.cn and "
        "mail.example.edu.cn, and forwards mail for dept.example.edu.cn and lib.example.edu.cn")


@pytest.mark.parametrize(("policy", "stance"), [
    ("", "relays for nobody but this host itself; accepts mail only for its own host name"),
    ("networks: {trusted: [192.0.2.0/24, '2001:db8::/32', 198.51.100.0/24]}\ndomains: {relay: [.example.org]}",
     "relays only for 192.0.2.0/24, 2001:db8::/32 and 198.51.100.0/24; accepts mail only for its own host name, "
     "and forwards mail for every subdomain of example.org"),
    ("networks: {trusted: [0.0.0.0/0], allow_wide_trusted: true}\ndomains: {local: [example.org]}",
     "relays only for 0.0.0.0/0 — an open relay; accepts mail for example.org"),
    ("role: submission\nauth: {enabled: true}\nnetworks: {trusted: [192.0.2.0/24]}\n" + TLS,
     "relays only for authenticated users; accepts no mail on port 25"),
    ("role: null-client\ndomains: {local: [example.org]}",
     "relays only mail written on this host; accepts no mail from the network (null client)"),
])
def test_stance_by_role_networks_and_domains(policy: str, stance: str) -> None:
    assert relay_stance(load_policy_text(policy)) == stance
