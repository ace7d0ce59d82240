"""Hostile text in every text field of a policy: refused at validation, at its own file:line:col with
exit 2, or accepted only where a target suite here reads it back with the MTA's own tool. YAML tricks
are refused fast and in bounded memory.

Alias bombs, merge keys and custom tags each have a bad-policy fixture (tests/unit/test_bad_policies.py
checks the place, the message and that a bomb is refused in under 2 s); here the command's memory is
measured too, for those and for tricks that cost a parser time or memory without an alias.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import need_real_mta
from tests.robustness.hostile import (
    BASE,
    HOSTILE,
    KEY,
    LINE_BREAKERS,
    NON_ASCII,
    READ_BACK_ELSEWHERE,
    TEXT_FIELDS,
    WRITTEN,
    as_file,
    base_fields,
    placed,
    refusal,
    text_fields,
    with_value,
)
from tests.unit.test_cli import command

FIELDS = sorted(text_fields(), key=str)
MEMORY_BOUND_KB = 120_000  # the command itself needs about 50 MB
TIME_BOUND = 3.0  # CPU seconds of the command (user + system): wall time also counts the other tests running


def test_the_base_policy_is_valid_and_fills_every_text_field() -> None:
    assert refusal(BASE) is None
    assert set(FIELDS) <= set(base_fields()), "give every text field of the model a value in BASE"
    assert set(WRITTEN) <= set(FIELDS)


@pytest.mark.parametrize("hostile", [*LINE_BREAKERS, *HOSTILE])
def test_every_field_refuses_it_where_it_stands_or_a_suite_reads_it_back(hostile: str) -> None:
    for path in FIELDS:
        value = placed(path, hostile)
        data = with_value(path, value)
        error = refusal(data)
        if error is None:
            assert hostile not in LINE_BREAKERS or (hostile == NON_ASCII and path in TEXT_FIELDS), path
            assert path in WRITTEN or path in READ_BACK_ELSEWHERE, f"{path} takes {hostile!r}: read it back in a suite"
            continue
        text = as_file(data)
        line = text[: text.index(json.dumps(value))].count("\n") + 1
        # A key pydantic cannot echo (it turns a lone surrogate into U+FFFD) is shown at its mapping.
        lines = {line, line - 1} if path[-1] == KEY else {line}
        assert len(error.problems) == 1 and error.problems[0].line in lines, (path, str(error))
        assert error.problems[0].hint


CLI_CASES = [
    (("access", "clients", 0, "message"), "line\nbreak"),
    (("smtp", "banner"), "{hostname} nul\x00byte"),
    (("hostname",), "`m4'.example.org"),
    (("targets", "postfix", "parameters", "<name>"), "mynetworks = 0.0.0.0/0\nx"),
    (("targets", "qmail", "home"), "/var/qmail; rm -rf /"),
]


@pytest.mark.parametrize(("path", "value"), CLI_CASES, ids=[".".join(map(str, p)) for p, _ in CLI_CASES])
def test_the_command_exits_2_at_file_line_col(tmp_path: Path, path: tuple[str | int, ...], value: str) -> None:
    data = with_value(path, value)
    policy = tmp_path / "policy.yml"
    policy.write_text(as_file(data))
    line = as_file(data)[: as_file(data).index(json.dumps(value))].count("\n") + 1
    for args in (["validate", str(policy)], ["render", str(policy), "--out", str(tmp_path / "out")]):
        result = subprocess.run([*command(), *args], capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 2, result.stderr
        assert re.match(rf"{re.escape(str(policy))}:{line}:\d+: ", result.stderr), result.stderr
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def _alias_bomb() -> str:
    levels = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    levels += [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]" for i in range(12)]
    return "\n".join(levels) + "\n"


YAML_TRICKS = {
    "alias bomb": _alias_bomb(),
    "merge key bomb": "base: &b {x: 1}\n" + "".join(f"m{i}: {{<<: *b}}\n" for i in range(10_000)),
    "inline merge keys": "".join(f"m{i}: {{<<: {{x: {i}}}}}\n" for i in range(10_000)),
    "deep nesting": "smtp: " + "[" * 100_000 + "]" * 100_000 + "\n",
    "deep mappings": "smtp: " + "{a: " * 20_000 + "1" + "}" * 20_000 + "\n",
    "anchored scalar": "hostname: &h mx.example.org\n" + "".join(f"k{i}: *h\n" for i in range(100_000)),
    "python tag": "hostname: !!python/object/apply:os.system ['echo injected']\n",
}


@pytest.mark.parametrize("trick", sorted(YAML_TRICKS))
def test_yaml_tricks_are_refused_fast_and_in_bounded_memory(tmp_path: Path, trick: str) -> None:
    need_real_mta("/usr/bin/time")
    policy = tmp_path / "trick.yml"
    policy.write_text(YAML_TRICKS[trick])
    result = subprocess.run(["/usr/bin/time", "-f", "maxrss=%M cpu=%U+%S", *command(), "validate", str(policy)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2, result.stderr
    assert re.match(rf"{re.escape(str(policy))}:\d+:\d+: ", result.stderr), result.stderr
    assert "injected" not in result.stdout + result.stderr
    rss, user, system = re.findall(r"maxrss=(\d+) cpu=([\d.]+)\+([\d.]+)", result.stderr)[-1]
    assert int(rss) < MEMORY_BOUND_KB, f"{trick}: {rss} KB"
    assert float(user) + float(system) < TIME_BOUND, f"{trick}: {user} s user + {system} s system"
