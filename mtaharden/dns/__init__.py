"""``mtaharden dns``: the DNS records (and the MTA-STS policy file) a policy needs, and a check against DNS.

- :mod:`.records`: the record set from the policy's ``published`` section (SPF, DMARC, MTA-STS, TLS-RPT);
- :mod:`.keys`: records derived from key material: TLSA 3 1 1 from ``tls.cert``, DKIM from ``dkim_signing``;
- :mod:`.zonefile`: zone-file text, one record per line, TXT split into quoted strings of at most 255 bytes;
- :mod:`.check`: what DNS serves compared with the set, every difference named.
"""
