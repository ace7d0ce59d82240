"""``targets.sendmail``: the Sendmail target's options."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..strict import TargetOptions
from ..types import AbsolutePath, ListenIP
from ._version import DEBIAN_12, Version

# Sendmail 8.17's DontBlameSendmail flags (op.me), in its spelling; Safe is the empty list.
DontBlameFlag = Literal[
    "AssumeSafeChown", "ClassFileInUnsafeDirPath", "DontWarnForwardFileInUnsafeDirPath", "ErrorHeaderInUnsafeDirPath",
    "FileDeliveryToHardLink", "FileDeliveryToSymLink", "ForwardFileInGroupWritableDirPath",
    "ForwardFileInUnsafeDirPath", "ForwardFileInUnsafeDirPathSafe", "GroupReadableDefaultAuthInfoFile",
    "GroupReadableKeyFile", "GroupReadableSASLDBFile", "GroupWritableAliasFile", "GroupWritableDirPathSafe",
    "GroupWritableForwardFile", "GroupWritableForwardFileSafe", "GroupWritableIncludeFile",
    "GroupWritableIncludeFileSafe", "GroupWritableSASLDBFile", "HelpFileInUnsafeDirPath",
    "IncludeFileInGroupWritableDirPath", "IncludeFileInUnsafeDirPath", "IncludeFileInUnsafeDirPathSafe",
    "InsufficientEntropy", "LinkedAliasFileInWritableDir", "LinkedClassFileInWritableDir",
    "LinkedForwardFileInWritableDir", "LinkedIncludeFileInWritableDir", "LinkedMapInWritableDir",
    "LinkedServiceSwitchFileInWritableDir", "MapInUnsafeDirPath", "NonRootSafeAddr", "RunProgramInUnsafeDirPath",
    "RunWritableProgram", "TrustStickyBit", "WorldWritableAliasFile", "WorldWritableForwardfile",
    "WorldWritableIncludefile", "WriteMapToHardLink", "WriteMapToSymLink", "WriteStatsToHardLink",
    "WriteStatsToSymLink",
]


class SendmailOptions(TargetOptions):
    version: Version = Field(DEBIAN_12["sendmail"], description="the Sendmail version the render assumes "
                             "(sendmail -d0.1 -bt); the deploy stops on an older one")
    settings_dir: AbsolutePath = Field("/etc/mail", description="MAIL_SETTINGS_DIR: access, relay-domains, …")
    cf_dir: AbsolutePath = Field("/usr/share/sendmail/cf", description="sendmail-cf's folder (m4/cf.m4)")
    ostype: Literal["debian", "linux"] = Field("debian", description="OSTYPE(); linux for a plain tree")
    sendmail: AbsolutePath = Field("/usr/sbin/sendmail", description="the sendmail binary (for -bt checks)")
    makemap: AbsolutePath = Field("/usr/sbin/makemap", description="the makemap binary")
    ca_path: AbsolutePath = Field("/etc/ssl/certs", description="confCACERT_PATH: Sendmail starts TLS only with CAs")
    ca_file: AbsolutePath = Field(
        "/etc/ssl/certs/ca-certificates.crt", description="confCACERT: without it Sendmail offers no STARTTLS"
    )
    milter_dir: AbsolutePath = Field("/etc", description="where Debian's opendkim, opendmarc and pyspf-milter packages "
                                     "read opendkim.conf, opendmarc.conf and pyspf-milter/pyspf-milter.conf")
    sasl_dir: AbsolutePath = Field(
        "/etc/sasl2", description="where Cyrus SASL looks for Sendmail.conf (Sendmail has no setting for it)"
    )
    accept_unresolvable_domains: bool = Field(
        False, description="accept senders whose domain does not resolve (hosts without DNS, e.g. internal relays)"
    )
    smtp_port: int = Field(25, ge=1, le=65535)
    listen_address: ListenIP | None = Field(None, description="address the daemons bind to; all when unset")
    queue_dir: AbsolutePath | None = Field(None, description="QUEUE_DIR; OSTYPE's default when unset")
    pid_file: AbsolutePath | None = None
    status_file: AbsolutePath | None = None
    help_file: AbsolutePath | None = Field(
        None, description="where mtaharden's version-free HELP text is installed (HELP_FILE); settings_dir/helpfile"
    )
    alias_file: AbsolutePath | None = None
    dont_blame_sendmail: list[DontBlameFlag] = Field(
        default_factory=list,
        description="DontBlameSendmail flags that relax Sendmail's file-safety checks (e.g. TrustStickyBit for "
        "maps below a sticky folder); empty: none relaxed (Safe), not even Debian's own list",
    )


Options = SendmailOptions
