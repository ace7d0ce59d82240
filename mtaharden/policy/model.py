"""The policy contract, version 1, as pydantic models.

Field defaults are the safe choice: an empty policy describes a server that relays for nobody but
itself. Cross-field rules (which need the whole policy) live in :mod:`mtaharden.policy.rules`. The core
names no MTA: ``targets.<name>`` and its checks come from the target's own module in ``policy/options/``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    Discriminator,
    Field,
    PlainSerializer,
    PlainValidator,
    Tag,
    ValidationInfo,
    WithJsonSchema,
    create_model,
)

from ..engines.header_forms import CHARSETS, DEFAULT_CHARSETS
from . import options
from .clients import Clients
from .hardening import DkimKey, Outbound, Published, Screening, SenderAuth
from .lists import DomainNames, EntryFile, Kind, read_list
from .strict import StrictModel
from .types import (
    AbsolutePath,
    AddressPattern,
    BannerText,
    Charset,
    DnsblFilter,
    DnsblMessage,
    DomainName,
    DomainPattern,
    HeaderName,
    HeaderRegex,
    HeloName,
    IPNetwork,
    MessageText,
    QueuePath,
    SizeBytes,
    list_file_name,
)

Role = Literal["mx", "submission", "mx+submission", "relay-only", "null-client"]
AccessAction = Literal["reject", "defer", "permit"]
Port = int
Mechanism = Literal["PLAIN", "LOGIN", "CRAM-MD5", "DIGEST-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256"]
DEFAULT_MECHANISMS: tuple[Mechanism, ...] = ("PLAIN", "LOGIN")


# --- list files: an item {file: NAME, ...} stands for every entry of NAME, at the item's place -----

POLICY_FOLDER = "policy_folder"  # validation context key: the folder relative list file names start from
LISTS_ROOT = "lists_root"  # validation context key: the folder tree list files must lie in (the command line's)
# Tags of the inline/list-file union; the loader drops them from error paths (they are not policy keys).
INLINE, LIST_FILE = "inline", "list-file"


def _list_reader(kind: Kind) -> Callable[[Any, ValidationInfo], EntryFile]:
    def read(value: Any, info: ValidationInfo) -> EntryFile:
        if isinstance(value, EntryFile):
            return value
        folder = (info.context or {}).get(POLICY_FOLDER, Path("."))
        return read_list(list_file_name(value), kind, folder, (info.context or {}).get(LISTS_ROOT))

    return read


def _list_schema(what: str) -> WithJsonSchema:
    return WithJsonSchema({"type": "string", "description": f"file with one {what} per line (# comments); "
                           "a relative path starts from the policy file's folder"})


_BY_NAME = PlainSerializer(lambda f: f.name, return_type=str)  # a dump names the file, never its entries
ClientListFile = Annotated[EntryFile, PlainValidator(_list_reader("client")), _BY_NAME,
                           _list_schema("IP address or CIDR network")]
HeloListFile = Annotated[EntryFile, PlainValidator(_list_reader("helo")), _BY_NAME, _list_schema("HELO name")]
AddressListFile = Annotated[EntryFile, PlainValidator(_list_reader("address")), _BY_NAME,
                            _list_schema("address pattern")]
DomainListFile = Annotated[EntryFile, PlainValidator(_list_reader("domain")), _BY_NAME, _list_schema("domain")]


def _item_kind(value: Any) -> str:
    """Which member of an inline/list-file union a raw or validated list item is."""
    has_file = "file" in value if isinstance(value, Mapping) else getattr(value, "file", None) is not None
    return LIST_FILE if has_file else INLINE


class DomainFile(StrictModel):
    file: DomainListFile


def _expand(items: list[str | DomainFile]) -> DomainNames:
    return DomainNames.expand([item.file if isinstance(item, DomainFile) else item for item in items])


if TYPE_CHECKING:
    DomainList = DomainNames
else:
    # Validated item by item (errors keep their item's place), then flattened: every consumer sees names.
    DomainList = Annotated[
        list[Annotated[Annotated[DomainPattern, Tag(INLINE)] | Annotated[DomainFile, Tag(LIST_FILE)],
                       Discriminator(_item_kind)]],
        AfterValidator(_expand),
    ]


class Domains(StrictModel):
    local: DomainList = Field(default_factory=DomainNames, description="final destination domains")
    relay: DomainList = Field(
        default_factory=DomainNames, description="domains accepted and forwarded (backup MX / gateway)"
    )


DEFAULT_TRUSTED = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


class Networks(StrictModel):
    trusted: list[IPNetwork] = Field(
        default_factory=lambda: list(DEFAULT_TRUSTED), description="clients that may relay without AUTH"
    )
    allow_wide_trusted: bool = Field(
        False, description="acknowledge trusted networks that together (loopback aside) span more than one /8 "
        "(IPv4) or /32 (IPv6): an open relay risk"
    )


class Submission(StrictModel):
    port: Port | None = Field(587, ge=1, le=65535, description="STARTTLS submission port, or null")
    smtps_port: Port | None = Field(465, ge=1, le=65535, description="implicit-TLS submission port, or null")


class Cyrus(StrictModel):
    pwcheck_method: Literal["saslauthd", "auxprop"] = "saslauthd"
    sasldb_path: AbsolutePath | None = Field(None, description="sasldb file for pwcheck_method auxprop")


class Auth(StrictModel):
    enabled: bool = False
    backend: Literal["cyrus", "dovecot"] = "cyrus"
    mechanisms: list[Mechanism] = Field(default_factory=lambda: list(DEFAULT_MECHANISMS), min_length=1)
    require_tls: bool = Field(True, description="offer and accept AUTH only after STARTTLS")
    submission: Submission = Field(default_factory=Submission)
    cyrus: Cyrus = Field(default_factory=Cyrus)
    dovecot_socket: QueuePath = Field("private/auth", description="dovecot auth socket, relative to the queue")


DEFAULT_DNSBL_FILTER = "127.0.0.[2..255]"


class DnsblEntry(StrictModel):
    zone: DomainName
    match: list[DnsblFilter] = Field(
        default_factory=list,
        description=f"return codes that count as listed; empty means {DEFAULT_DNSBL_FILTER}",
    )
    action: Literal["reject", "defer"] = "reject"
    message: DnsblMessage = "Blocked: {client} listed at {zone}"

    @property
    def filters(self) -> list[str]:
        """The return-code filters to apply (the safe default when none are given)."""
        return list(self.match) or [DEFAULT_DNSBL_FILTER]


class _Rule(StrictModel):
    action: AccessAction
    message: MessageText | None = None


class ClientRule(_Rule):
    match: IPNetwork

    def covers(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        return address in self.match


class HeloRule(_Rule):
    match: HeloName


class AddressRule(_Rule):
    match: AddressPattern


class ClientFile(_Rule):
    file: ClientListFile

    def covers(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        return self.file.contains(address)


class HeloFile(_Rule):
    file: HeloListFile


class AddressFile(_Rule):
    file: AddressListFile


ClientItem = Annotated[Annotated[ClientRule, Tag(INLINE)] | Annotated[ClientFile, Tag(LIST_FILE)],
                       Discriminator(_item_kind)]
HeloItem = Annotated[Annotated[HeloRule, Tag(INLINE)] | Annotated[HeloFile, Tag(LIST_FILE)], Discriminator(_item_kind)]
AddressItem = Annotated[Annotated[AddressRule, Tag(INLINE)] | Annotated[AddressFile, Tag(LIST_FILE)],
                        Discriminator(_item_kind)]
ListFileRule = ClientFile | HeloFile | AddressFile


class Access(StrictModel):
    """Access rules per SMTP stage; within a list the first match wins. ``permit`` never allows relaying.

    A list-file item applies its action and message to every entry of its file, at the item's place.
    """

    clients: list[ClientItem] = Field(default_factory=list)
    helo: list[HeloItem] = Field(default_factory=list)
    senders: list[AddressItem] = Field(default_factory=list)
    recipients: list[AddressItem] = Field(default_factory=list)


class HeaderCheck(StrictModel):
    header: HeaderName
    pattern: HeaderRegex
    charsets: list[Charset] = Field(
        default_factory=lambda: list(DEFAULT_CHARSETS), min_length=1, max_length=len(CHARSETS),
        description="charsets non-ASCII text of the pattern is matched in, raw and RFC 2047 encoded "
                    "(Postfix, Sendmail)",
    )
    action: Literal["reject", "discard", "hold", "warn"] = "reject"
    message: MessageText | None = None


class Smtp(StrictModel):
    banner: BannerText = "{hostname} ESMTP"
    disable_vrfy: bool = True
    disable_expn: bool = True
    require_helo: bool = True
    strict_envelopes: bool = True
    max_message_size: SizeBytes = 25 * 2**20
    max_recipients: int = Field(100, ge=1, le=100_000)
    max_connections_per_client: int = Field(20, ge=1, le=10_000)
    bare_newlines: Literal["normalize", "reject"] = Field(
        "normalize", description="SMTP smuggling: a line in DATA that ends in a bare LF or CR is read as "
        "if it ended in CRLF (normalize) or the message is refused (reject); either way only CRLF.CRLF ends DATA")
    bare_newlines_exempt_trusted: bool = Field(
        True, description="clients in networks.trusted keep the MTA's old line handling (some internal "
        "applications send bare LF); they may relay anyway, so they gain nothing by smuggling")


class Tls(StrictModel):
    cert: AbsolutePath
    key: AbsolutePath
    inbound: Literal["may", "encrypt"] = "may"
    min_protocol: Literal["TLSv1.2", "TLSv1.3"] = "TLSv1.2"


def _targets_model() -> type[StrictModel]:
    """``targets``: one field per module of ``policy/options/`` (each target owns its options there)."""
    fields: dict[str, Any] = {name: (module.Options, Field(default_factory=module.Options))
                              for name, module in zip(options.names(), options.modules(), strict=True)}
    return create_model("Targets", __base__=StrictModel, __module__=__name__, **fields)


if TYPE_CHECKING:
    class Targets(StrictModel):
        """Typed as open: ``policy.targets.<name>`` is that target's ``Options`` (annotate it where used)."""

        def __getattr__(self, name: str) -> Any: ...
else:
    Targets = _targets_model()


class Policy(StrictModel):
    """A site's mail hardening policy (contract version 1)."""

    version: Literal[1] = 1
    hostname: DomainName | None = Field(None, description="the MTA's own name; the system's name when unset")
    role: Role = "mx"
    domains: Domains = Field(default_factory=Domains)
    networks: Networks = Field(default_factory=Networks)
    auth: Auth = Field(default_factory=Auth)
    dnsbl: list[DnsblEntry] = Field(default_factory=list)
    access: Access = Field(default_factory=Access)
    header_checks: list[HeaderCheck] = Field(default_factory=list)
    smtp: Smtp = Field(default_factory=Smtp)
    tls: Tls | None = None
    screening: Screening = Field(default_factory=Screening)
    sender_auth: SenderAuth = Field(default_factory=SenderAuth)
    dkim_signing: list[DkimKey] = Field(default_factory=list)
    outbound: Outbound = Field(default_factory=Outbound)
    published: Published = Field(default_factory=Published)
    targets: Targets = Field(default_factory=Targets)
    clients: Clients = Field(default_factory=Clients)  # mail-client settings (mtaharden clients)

    def states(self, element: str) -> bool:
        """Whether the policy file itself sets ``element`` (dotted, with [i] for list items).

        Elements left at their defaults are the contract's safe choices, not the site's wishes: a
        target that cannot enforce one reports it rather than refusing to render.
        """
        node: object = self
        for step in element.split("."):
            name, _, index = step.partition("[")
            if not isinstance(node, BaseModel) or name not in node.model_fields_set:
                return False
            node = getattr(node, name)
            if index:
                return True
        return True

    @property
    def accepts_inbound(self) -> bool:
        """Whether a public port-25 listener is part of this role."""
        return self.role in ("mx", "mx+submission", "relay-only")

    @property
    def offers_submission(self) -> bool:
        return self.role in ("submission", "mx+submission")
