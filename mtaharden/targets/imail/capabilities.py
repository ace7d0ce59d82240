"""What Progress IMail Server 12.x can do with the policy, as coverage texts (README cites the sources: the
IMail KB "Mail Relay Options", the IMail Server admin help for the kill file and DNS black lists, the v12
help index). Everything is set by hand in IMail Administrator, so nothing better than "approximated"."""

from __future__ import annotations

RELAY = ("by hand: SMTP Security \"Relay mail for\" the listed addresses (or nobody); everyone else must "
         "authenticate to send to non-local addresses")
LOCAL = "by hand: IMail's hosts (domains) are the administrator's; GUIDE.md lists them to check"
NO_RELAY_DOMAINS = "no IMail setting found that relays for listed destination domains (unverified)"
AUTH = "by hand: SMTP AUTH is on unless \"Disable SMTP AUTH\" is checked; unlisted clients must authenticate"
KILL = ("by hand: an entry of the SMTP kill file (kill.lst), which IMail answers with its own 501 reply, "
        "permanently, whatever the policy's message and action")
NO_KILL = "the kill file lists only addresses and whole domains and only refuses: a permit or a user@ rule has no entry"
DNSBL = ("by hand: a DNS black list entry, enabled per domain on Connection Checks; IMail has no return-code "
         "filter and its own reply and action (unverified)")
BANNER = "by hand: SMTP Advanced \"Hello Message\" (it takes 400 characters, the policy at most 200)"
RECIPIENTS = "by hand: SMTP Advanced \"Maximum recipients per message\""
NO_HEADERS = "no header filter of IMail's own is documented in the pages read (the Premium spam filters are unverified)"
UNVERIFIED = "no setting for this found in the IMail documentation read (unverified)"
INSTALLATION = ("IMail's installation decides it (the server's own name, the services it runs): mtaharden "
                "writes no setting for it; check it by hand against the policy")
