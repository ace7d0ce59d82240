"""mtaharden's help file: HELP must not fall back to a stock file that names the version."""

from __future__ import annotations

from ...policy import Policy

# HelpFile lines (topic, text). Sendmail expands macros in them, so they hold none; without a
# readable help file HELP answers "502 5.3.0 Sendmail <version> -- HELP not implemented".
HELP_TOPICS = (("#vers", "2"), ("smtp", "Topics: HELO EHLO MAIL RCPT DATA RSET NOOP QUIT HELP"),
               ("smtp", "For local information send email to Postmaster at your site."),
               ("help", "HELP [ <topic> ]"), ("helo", "HELO <hostname>"), ("ehlo", "EHLO <hostname>"),
               ("mail", "MAIL From:<sender> [ <parameters> ]"), ("rcpt", "RCPT To:<recipient> [ <parameters> ]"),
               ("data", "DATA: the message follows, ended by a line with a single dot."),
               ("rset", "RSET"), ("noop", "NOOP"), ("quit", "QUIT"))


def help_file(policy: Policy) -> str:
    """Where the help file goes (HELP_FILE in the .mc, and its install destination)."""
    options = policy.targets.sendmail
    return options.help_file or f"{options.settings_dir.rstrip('/')}/helpfile"
