"""List files: long access and domain lists kept beside the policy, one entry per line.

An ISP's block list has hundreds of thousands of lines, so a list file is never turned into one
object per entry. It is read whole and checked in bulk: a possessive regular expression (run in C)
accepts the runs of lines already in canonical form, and only the lines it stops at (upper case,
CIDR networks, IPv6, mistakes) go through the same validator an inline value gets, which either
normalises the entry or reports it at ``file:line:col``. The result is a tuple of canonical strings;
targets turn it into their map formats with string operations on the whole block.
"""

from __future__ import annotations

import ipaddress
import re
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Literal, TypeVar

from ..safe_read import UnsafeFile, read_regular
from . import canonical
from .types import PolicyValueError, address_pattern, domain_pattern, helo_name, ip_network

Kind = Literal["client", "helo", "address", "domain"]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
T = TypeVar("T")

MAX_LIST_BYTES = 256 * 2**20
MAX_PROBLEMS = 20

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = rf"{_OCTET}(?:\.{_OCTET}){{3}}"
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_LAST = rf"(?![0-9]+(?![a-z0-9-])){_LABEL}"  # a name's last label is never all digits
_SHORT_NAME = r"(?=[a-z0-9.-]{1,253}(?![a-z0-9.-]))"  # at most 253 characters (a lookahead, no consumption)
_DOMAIN = rf"{_SHORT_NAME}(?:{_LABEL}\.)+{_LAST}"
_LOCAL = r"(?=[a-z0-9._+=-]{1,64}@)[a-z0-9_+=-]+(?:\.[a-z0-9_+=-]+)*"
# Entries already in the form their validator returns unchanged; the unit tests hold them to that.
CANONICAL: dict[Kind, str] = {
    "client": _IPV4,
    "helo": rf"{_IPV4}|{_SHORT_NAME}(?:{_LABEL}\.)*{_LAST}",
    "address": rf"{_LOCAL}@(?:{_DOMAIN})?|@{_DOMAIN}|{_DOMAIN}",
    "domain": rf"\.?{_DOMAIN}",
}
_RUNS = {
    kind: re.compile(rf"(?:[ \t]*+(?:(?:{token})(?=[ \t#\r\n])[ \t]*+)?+(?:#[^\n]*+)?+\r?\n)*+")
    for kind, token in CANONICAL.items()
}
_COMMENT = re.compile(r"#[^\n]*+")


def client_key(network: Network) -> str:
    """A client entry's canonical text: the bare address for one host, else address/prefix."""
    return canonical.client(network)


def client_entry(value: str) -> str:
    """Validate one client entry (address or CIDR network, host bits zero) into its canonical text."""
    return client_key(ip_network(value))


VALIDATORS: dict[Kind, Callable[[str], str]] = {
    "client": client_entry,
    "helo": helo_name,
    "address": address_pattern,
    "domain": domain_pattern,
}


@dataclass(frozen=True)
class LineProblem:
    """A bad line of a list file (1-based line and column); the loader adds the file and policy path."""

    line: int
    column: int
    message: str
    hint: str


class ListFileError(PolicyValueError):
    """A list file with bad lines; ``problems`` locates each (the first few when there are many)."""

    def __init__(self, source: str, problems: list[LineProblem]) -> None:
        super().__init__(f"{source} has {len(problems)} bad line(s)", problems[0].hint if problems else "")
        self.source = source
        self.problems = problems


@dataclass(frozen=True)
class EntryFile:
    """The entries of one list file, canonical and in file order; ``name`` is the path as the policy wrote it."""

    name: str
    source: str  # the path errors are reported under: relative to the working folder, as the policy's was
    kind: Kind
    entries: tuple[str, ...] = field(repr=False)

    def __len__(self) -> int:
        return len(self.entries)

    def locate(self, index: int) -> tuple[int, int]:
        """Line and column of entry ``index`` (1, 1 if the file changed since it was read)."""
        lines, columns = self._positions
        return (lines[index], columns[index]) if index < len(lines) else (1, 1)

    @cached_property
    def _positions(self) -> tuple[array[int], array[int]]:
        """Where each entry is, found on the first error report by reading the file again."""
        lines, columns = array("L"), array("L")
        try:
            text = read_regular(self.source, MAX_LIST_BYTES).decode("utf-8")
        except (UnsafeFile, UnicodeDecodeError):
            return lines, columns
        for number, line in enumerate(text.split("\n"), start=1):
            content = line.split("#", 1)[0]
            if content.strip():
                lines.append(number)
                columns.append(len(content) - len(content.lstrip()) + 1)
        return lines, columns

    @cached_property
    def _only_ipv4_hosts(self) -> bool:
        joined = "\n".join(self.entries)  # one C-speed look usually shows there is nothing else
        return "/" not in joined and ":" not in joined

    @cached_property
    def ipv4_hosts(self) -> Sequence[str]:
        """Client entries that are one IPv4 address: most of a block list, handled as text by the targets."""
        if self._only_ipv4_hosts:
            return self.entries
        return [entry for entry in self.entries if "/" not in entry and ":" not in entry]

    @cached_property
    def networks(self) -> list[Network]:
        """Every other client entry (networks, IPv6 hosts) as an ipaddress network; usually few."""
        if self._only_ipv4_hosts:
            return []
        return [ipaddress.ip_network(entry) for entry in self.entries if "/" in entry or ":" in entry]

    def contains(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        """Whether a client entry of this file matches ``address``."""
        return str(address) in self.entries or any(address in network for network in self.networks)


class DomainNames(list[str]):
    """A domain list with its list files expanded in place; ``spans`` says where each part came from.

    Consumers see plain names; the rules use the spans to report a duplicate at its file line.
    """

    spans: tuple[tuple[int, int, EntryFile | None], ...] = ()  # (policy item, first name, file or None)

    @classmethod
    def expand(cls, items: list[str | EntryFile]) -> DomainNames:
        names, spans = cls(), []
        for index, item in enumerate(items):
            spans.append((index, len(names), item if isinstance(item, EntryFile) else None))
            if isinstance(item, EntryFile):
                names.extend(item.entries)
            else:
                names.append(item)
        names.spans = tuple(spans)
        return names

    def origin(self, position: int) -> tuple[int, EntryFile | None, int]:
        """The policy item, list file (None: inline) and entry number within it of name ``position``."""
        item, start, file = next(span for span in reversed(self.spans) if span[1] <= position)
        return item, file, position - start


def within(inner: Network, outer: Network) -> bool:
    """Whether every address of ``inner`` is in ``outer`` (never across IPv4 and IPv6)."""
    return inner.version == outer.version and inner.subnet_of(outer)  # type: ignore[arg-type]


def first_covering(hosts: Sequence[str], networks: Sequence[tuple[Network, T]]) -> dict[str, T]:
    """For each IPv4 host some of ``networks`` contains, the value of the first one that does.

    Targets whose lookups prefer the most specific key (Sendmail's access map, tcpserver) use it so
    that an earlier, wider rule still wins over a list file's addresses, as first match wins says.
    Hosts are screened by text first, so a list of a million addresses costs little.
    """
    first: dict[int, dict[int, tuple[int, T]]] = {}  # prefix length → network number → (order, value)
    for order, (network, value) in enumerate(networks):
        if network.version == 4:
            first.setdefault(network.prefixlen, {}).setdefault(int(network.network_address), (order, value))
    if not first:
        return {}
    octets = sorted({str(octet) for length, numbers in first.items() for number in numbers
                     for octet in range(number >> 24, (number >> 24) + 2 ** max(8 - length, 0))})
    # The screen runs in C over the hosts as one text: a Python test per host was most of its cost.
    screen = re.compile(rf"\n((?:{'|'.join(octets)})\.[^\n]*)")
    found: dict[str, T] = {}
    first_host = screen.findall(f"\n{hosts[0]}") if hosts else []  # the joined text has no LF before it
    for host in [*first_host, *screen.findall("\n".join(hosts))]:
        address = int(ipaddress.IPv4Address(host))
        matches = [numbers[key] for length, numbers in first.items()
                   if (key := address >> (32 - length) << (32 - length)) in numbers]
        if matches:
            found[host] = min(matches, key=lambda match: match[0])[1]
    return found


def read_list(name: str, kind: Kind, folder: Path, root: Path | None = None) -> EntryFile:
    """Read and validate the list file ``name`` (relative to ``folder``, the policy's folder).

    The file must be a regular file inside ``root`` (default: ``folder``) once links are resolved:
    a policy names its lists, only the command line may name another tree. Raises
    :class:`PolicyValueError` when the file cannot or may not be read and :class:`ListFileError`
    with located problems when lines are bad. No message holds the text of a line: a file that is
    not a list file (/etc/shadow, /proc/self/environ) must not reach a CI log.
    """
    path = Path(name) if Path(name).is_absolute() else folder / name
    source = str(path)
    try:
        raw = read_regular(path, MAX_LIST_BYTES, within=folder if root is None else root)
    except UnsafeFile as exc:
        hint = {"lies": "keep list files in the policy's folder, or name their folder with --lists-root DIR",
                "cannot": "a relative path is taken from the policy file's folder; check it exists"
                }.get(exc.reason.split()[0], exc.hint)
        raise PolicyValueError(f"cannot read list file {source}: it {exc.reason}", hint) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ListFileError(source, [LineProblem(line, 1, "the line is not valid UTF-8", "save the file as UTF-8")]
                            ) from None
    try:
        return EntryFile(name, source, kind, tuple(_entries(text, kind, source)))
    except ListFileError as exc:
        raise ListFileError(source, [_textless(problem, kind) for problem in exc.problems]) from None


def _textless(problem: LineProblem, kind: Kind) -> LineProblem:
    """A bad line's problem with a fixed message per kind: validators quote the value, which may be a secret."""
    reason = next((f": it {phrase}" for phrase in _REASONS if phrase in problem.message), "")
    hint = problem.hint if _SUGGESTION.fullmatch(problem.hint) else _HINT[kind]  # a re-emitted network only
    return LineProblem(problem.line, problem.column, f"this line is not {_WHAT[kind]}{reason}", hint)


_SUGGESTION = re.compile(r"did you mean [0-9a-f.:/]+\?")
# Fixed phrases of the validators' messages that say what is wrong without quoting anything.
_REASONS = ("holds more than one entry", "has host bits set", "has more than one '@'", "has a misplaced dot",
            "is not fully qualified", "ends in an all-digit label", "is longer than 253 characters",
            "has an invalid label", "has characters that are not allowed", "is not valid UTF-8",
            "carries an IPv6 zone id", "is an IPv4-mapped IPv6 form of an IPv4 address",
            "is an IPv4-compatible IPv6 form of an IPv4 address", "has a prefix length that is not a plain number",
            "contains a non-ASCII character")


_WHAT: dict[Kind, str] = {
    "client": "one IP address or CIDR network",
    "helo": "one HELO name or address literal",
    "address": "one address pattern",
    "domain": "one domain",
}
_HINT: dict[Kind, str] = {
    "client": "write one entry per line: an address such as 192.0.2.7 or a network such as 192.0.2.0/24 "
              "(host bits zero); # starts a comment",
    "helo": "write one entry per line: a name such as mail.example.org or a literal such as [192.0.2.7]; "
            "# starts a comment",
    "address": "write one entry per line: user@example.org, @example.org, example.org or user@; # starts a comment",
    "domain": "write one entry per line: a domain such as example.org, or .example.org for its subdomains; "
              "# starts a comment",
}


def _entries(text: str, kind: Kind, source: str) -> list[str]:
    """Canonical entries of ``text``: C-speed runs of canonical lines, the validator for the rest."""
    runs, validate = _RUNS[kind], VALIDATORS[kind]
    entries: list[str] = []
    problems: list[LineProblem] = []
    position, line_number = 0, 1
    while position < len(text):
        end = runs.match(text, position).end()  # type: ignore[union-attr]  # a *+ pattern always matches
        run = text if (position, end) == (0, len(text)) else text[position:end]
        # Each line of the run is blanks, at most one entry, maybe a comment: without the comments,
        # splitting at blanks leaves exactly the entries (twice as fast as a findall).
        entries += (_COMMENT.sub("", run) if "#" in run else run).split()
        if end == len(text):
            break
        line_number += text.count("\n", position, end)
        stop = text.find("\n", end)
        stop = len(text) if stop < 0 else stop
        try:
            entry = _odd_line(text[end:stop], validate)
        except _BadLine as bad:
            problems.append(LineProblem(line_number, bad.column, bad.message, bad.hint))
            if len(problems) == MAX_PROBLEMS:
                break
        else:
            if entry is not None:
                entries.append(entry)
        position, line_number = stop + 1, line_number + 1
    if problems:
        raise ListFileError(source, problems)
    return entries


class _BadLine(Exception):
    def __init__(self, column: int, message: str, hint: str) -> None:
        super().__init__(message)
        self.column, self.message, self.hint = column, message, hint


def _odd_line(line: str, validate: Callable[[str], str]) -> str | None:
    """A line the fast pattern stopped at: blank or comment (None), an entry to normalise, or a problem."""
    content = line.split("#", 1)[0]
    value = content.strip()
    if not value:
        return None
    column = len(content) - len(content.lstrip()) + 1
    if len(value.split()) > 1:
        raise _BadLine(column, f"{value!r} holds more than one entry",
                       "write one entry per line; start a comment with #")
    try:
        return validate(value)
    except PolicyValueError as exc:
        raise _BadLine(column, str(exc), exc.hint) from None
