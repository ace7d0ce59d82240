"""``mtaharden blocklist``: is an address of ours on a DNSBL, at which code, and where to ask for delisting.

catalogue (the shipped zones and their codes) · own (a policy's own addresses) · reverse (query names, CIDR
expansion) · lookup (DNS, bounded) · interpret (listed / not listed / error, and why) · check (one run) · report
(text, JSON, exit code) · cli.
"""
