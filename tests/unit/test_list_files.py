"""List files and the two-speed loader: what a list file may hold, where its problems are reported,
duplicates across files and inline rules, and the fast YAML reader agreeing with ruamel."""

from __future__ import annotations

import io
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from mtaharden.policy import PolicyError, Problem, fastyaml, load_policy
from mtaharden.policy.lists import CANONICAL, MAX_PROBLEMS, VALIDATORS, DomainNames, read_list
from mtaharden.policy.model import AddressFile, ClientFile, Policy
from mtaharden.policy.types import PolicyValueError
from tests.unit.test_bad_policies import mtaharden_command


def write(folder: Path, files: dict[str, str], policy: str) -> Path:
    for name, text in files.items():
        (folder / name).write_text(text)
    (folder / "policy.yml").write_text(policy)
    return folder / "policy.yml"


def problems(path: Path) -> list[Problem]:
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    return caught.value.problems


CLIENTS = "access:\n  clients:\n    - {file: block.txt, action: reject, message: Listed}\n"


# --- reading ------------------------------------------------------------------------------------


def test_entries_are_canonical_in_file_order_without_comments_or_blanks(tmp_path: Path) -> None:
    text = "# list\n192.0.2.7\n\n  198.51.100.0/24   # a network\r\n10.0.0.1/32\n2001:DB8::0:1\n203.0.113.9"
    (tmp_path / "l.txt").write_text(text)
    listed = read_list("l.txt", "client", tmp_path)
    assert listed.entries == ("192.0.2.7", "198.51.100.0/24", "10.0.0.1", "2001:db8::1", "203.0.113.9")
    assert listed.ipv4_hosts == ["192.0.2.7", "10.0.0.1", "203.0.113.9"]
    assert [n.with_prefixlen for n in listed.networks] == ["198.51.100.0/24", "2001:db8::1/128"]


@pytest.mark.parametrize(("kind", "text", "entries"), [
    ("address", "Joe@Example.ORG\n@spam.example\nspam.example.\npostmaster@\n",
     ("joe@example.org", "@spam.example", "spam.example", "postmaster@")),
    ("domain", "Example.org\n.sub.example.org\n", ("example.org", ".sub.example.org")),
    ("helo", "localhost\n[192.0.2.1]\nMX.example.org.\n", ("localhost", "192.0.2.1", "mx.example.org")),
])
def test_each_kind_is_normalised_like_its_inline_type(tmp_path: Path, kind: Any, text: str,
                                                      entries: tuple[str, ...]) -> None:
    (tmp_path / "l.txt").write_text(text)
    assert read_list("l.txt", kind, tmp_path).entries == entries


tokens = st.text(alphabet="abz09.-_+=@:/[]XY", min_size=1, max_size=30)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(sorted(CANONICAL)), tokens)
def test_the_fast_pattern_accepts_only_what_the_validator_keeps_unchanged(kind: Any, token: str) -> None:
    if re.fullmatch(CANONICAL[kind], token):
        assert VALIDATORS[kind](token) == token


@pytest.mark.parametrize(("kind", "token"), [
    ("domain", "a" * 63 + ".org"), ("domain", "a" * 64 + ".org"), ("domain", ".".join(["a" * 61] * 4) + ".ab"),
    ("domain", ".".join(["a" * 61] * 4) + ".a"), ("address", "u" * 64 + "@x.org"), ("address", "u" * 65 + "@x.org"),
    ("helo", "mx." + "b" * 63), ("domain", "example.123"), ("helo", "192.0.2.1"), ("client", "192.0.2.256"),
])
def test_length_limits_hold_on_the_fast_path_too(kind: Any, token: str) -> None:
    try:
        valid = VALIDATORS[kind](token) == token
    except PolicyValueError:
        valid = False
    assert bool(re.fullmatch(CANONICAL[kind], token)) == valid


def test_a_long_canonical_list_takes_the_fast_path(tmp_path: Path) -> None:
    (tmp_path / "l.txt").write_text("".join(f"user{n}@spam{n % 7}.example\n" for n in range(20000)))
    assert len(read_list("l.txt", "address", tmp_path)) == 20000


def test_bad_lines_are_reported_at_file_line_col_and_nothing_is_rendered(tmp_path: Path) -> None:
    policy = write(tmp_path, {"block.txt": "192.0.2.1\n  not-an-ip\n10.0.0.1/8 # wide\n1.2.3.4 5.6.7.8\n"}, CLIENTS)
    found = problems(policy)
    where = [(Path(p.source).name, p.line, p.column, p.path) for p in found]
    assert where == [("block.txt", 2, 3, "access.clients.0.file"), ("block.txt", 3, 1, "access.clients.0.file"),
                     ("block.txt", 4, 1, "access.clients.0.file")]
    assert "did you mean 10.0.0.0/8?" in found[1].hint
    assert "one entry per line" in found[2].hint
    result = subprocess.run([*mtaharden_command(), "render", str(policy), "--out", str(tmp_path / "out")],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2 and not (tmp_path / "out").exists()
    assert result.stderr.startswith(f"{tmp_path / 'block.txt'}:2:3: access.clients.0.file: ")


def test_only_the_first_problems_of_a_broken_file_are_listed(tmp_path: Path) -> None:
    policy = write(tmp_path, {"block.txt": "bad\n" * 1000}, CLIENTS)
    assert len(problems(policy)) == MAX_PROBLEMS


def test_a_missing_or_undecodable_file_is_located(tmp_path: Path) -> None:
    policy = write(tmp_path, {}, CLIENTS)
    (problem,) = problems(policy)
    assert (problem.source, problem.line, problem.column, problem.path) == (str(policy), 3, 14, "access.clients.0.file")
    assert "cannot read list file" in problem.message
    (tmp_path / "block.txt").write_bytes(b"192.0.2.1\n\xff\n")
    (problem,) = problems(policy)
    assert (Path(problem.source).name, problem.line) == ("block.txt", 2)


def test_relative_names_start_from_the_policy_folder_not_the_working_one(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    policy = write(tmp_path / "conf", {"block.txt": "192.0.2.1\n"}, CLIENTS)
    result = subprocess.run([*mtaharden_command(), "validate", "conf/policy.yml"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    (tmp_path / "conf" / "block.txt").write_text("x\n")
    result = subprocess.run([*mtaharden_command(), "validate", "conf/policy.yml"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.stderr.startswith("conf/block.txt:1:1: "), result.stderr
    assert policy.exists()


def test_unknown_keys_in_a_list_file_item_suggest_its_own_keys(tmp_path: Path) -> None:
    policy = write(tmp_path, {"block.txt": "192.0.2.1\n"},
                   "access:\n  clients:\n    - {file: block.txt, action: reject, mesage: x}\n")
    (problem,) = problems(policy)
    assert (problem.path, problem.hint) == ("access.clients.0.mesage", "did you mean 'message'?")


def test_a_dump_names_the_file_not_its_entries(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, {"block.txt": "192.0.2.1\n"}, CLIENTS))
    assert policy.model_dump(mode="json")["access"]["clients"] == [
        {"action": "reject", "message": "Listed", "file": "block.txt"}]
    schema = Policy.model_json_schema()
    assert "file" in schema["$defs"]["ClientFile"]["properties"]


# --- duplicates and first match wins --------------------------------------------------------------


def test_repeats_inside_a_file_and_against_earlier_rules_are_located(tmp_path: Path) -> None:
    policy = write(tmp_path, {"a.txt": "192.0.2.1\n192.0.2.2\n", "b.txt": "# b\n192.0.2.9\n192.0.2.2\n192.0.2.9\n"},
                   "access:\n  clients:\n"
                   "    - {file: a.txt, action: reject}\n"
                   "    - {match: 192.0.2.1/32, action: permit}\n"
                   "    - {file: b.txt, action: defer}\n")
    found = {(Path(p.source).name, p.line, p.path, p.message) for p in problems(policy)}
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    assert found == {
        ("policy.yml", 4, "access.clients.1.match",
         f"192.0.2.1/32 already matched by rule 0 ({a} line 1); first match wins, so this rule never applies"),
        ("b.txt", 3, "access.clients.2.file",
         f"192.0.2.2 already matched by rule 0 ({a} line 2); first match wins, so this entry never applies"),
        ("b.txt", 4, "access.clients.2.file",
         f"192.0.2.9 already matched by rule 2 ({b} line 2); first match wins, so this entry never applies"),
    }


def test_domain_lists_expand_in_place_and_repeats_point_at_the_file(tmp_path: Path) -> None:
    policy = write(tmp_path, {"relay.txt": "b.example.org\n\nc.example.org\n"},
                   "domains:\n  local: [l.example.org]\n  relay: [a.example.org, {file: relay.txt}, d.example.org]\n")
    loaded = load_policy(policy)
    assert loaded.domains.relay == ["a.example.org", "b.example.org", "c.example.org", "d.example.org"]
    assert isinstance(loaded.domains.relay, DomainNames)
    (tmp_path / "relay.txt").write_text("b.example.org\n\nl.example.org\na.example.org\n")
    found = {(Path(p.source).name, p.line, p.path, p.message.split(" ", 1)[1]) for p in problems(policy)}
    assert found == {("relay.txt", 3, "domains.relay.1.file", "is both a local and a relay domain"),
                     ("relay.txt", 4, "domains.relay.1.file", "is listed twice")}


# --- the fast YAML reader ---------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """ruamel's round-trip types as plain Python, to compare with the fast reader."""
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    for kind in (bool, int, float, str):
        if isinstance(value, kind):
            return kind(value)
    return value


scalars = st.text(alphabet="0123456789.-+:_eExXoOaTZyYnN ~=<!&*@/", min_size=0, max_size=12)


@settings(max_examples=500, deadline=None)
@given(scalars)
def test_the_fast_reader_decides_a_scalar_only_as_ruamel_does(scalar: str) -> None:
    text = f"key: {scalar}\nlist: [{scalar}, x]\n"
    try:
        fast = fastyaml.parse(text)
    except fastyaml.Undecided:
        return
    slow = YAML(typ="rt", pure=True)
    assert fast == plain(slow.load(io.StringIO(text)))


@pytest.mark.parametrize("text", ["a: &x 1\nb: *x\n", "a: !!str 1\n", "%YAML 1.1\n---\na: yes\n", "a: 1\na: 2\n",
                                  "<<: {a: 1}\n", "[" * 40 + "]" * 40, "a: [\n"])
def test_the_fast_reader_leaves_unsafe_or_broken_yaml_to_the_located_loader(text: str) -> None:
    with pytest.raises(fastyaml.Undecided):
        fastyaml.parse(text)


def test_without_pyyaml_every_policy_takes_the_located_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    policy = write(tmp_path, {"block.txt": "192.0.2.1\n"}, CLIENTS + "smtp: {max_message_size: 10MiB}\n")
    fast = load_policy(policy)
    monkeypatch.setattr(fastyaml, "AVAILABLE", False)
    assert load_policy(policy) == fast
    assert isinstance(fast.access.clients[0], ClientFile)


def test_a_long_inline_list_loads_through_the_fast_reader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rules = "".join(f"    - {{match: u{n}@spam.example, action: reject}}\n" for n in range(2000))
    policy = write(tmp_path, {}, "access:\n  senders:\n" + rules)

    def refuse(*_: Any) -> Any:
        raise AssertionError("ruamel must not be needed on the happy path")

    monkeypatch.setattr("mtaharden.policy.load._load_located", refuse)
    assert len(load_policy(policy).access.senders) == 2000


def test_a_problem_found_on_the_fast_path_is_located_by_the_slow_one(tmp_path: Path) -> None:
    senders = "".join(f"    - {{match: u{n}@spam.example, action: reject}}\n" for n in range(50))
    policy = write(tmp_path, {}, "access:\n  senders:\n" + senders + "    - {match: u7@spam.example, action: defer}\n")
    (problem,) = problems(policy)
    assert (problem.line, problem.column, problem.path) == (53, 15, "access.senders.50.match")


def test_list_file_types_refuse_what_is_not_a_file_name(tmp_path: Path) -> None:
    policy = write(tmp_path, {}, "access:\n  senders:\n    - {file: 42, action: reject}\n")
    (problem,) = problems(policy)
    assert problem.path == "access.senders.0.file" and "must be text, not a whole number" in problem.message
    with pytest.raises(PolicyValueError):
        read_list("nothing-here.txt", "domain", tmp_path)
    assert AddressFile.model_fields["file"].is_required()
