"""Every file in tests/fixtures/bad_policies is refused, at the right place, by the real command.

Each fixture starts with ``# expect: LINE:COL PATH-OR-DASH SUBSTRING``: where the first problem must be
reported, its dotted path (``-`` for YAML-level problems, which have none) and a piece of its text.
"""

from __future__ import annotations

import re
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from mtaharden.policy import PolicyError, load_policy, load_policy_text

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "bad_policies"
EXPECT = re.compile(r"^# expect: (\d+):(\d+) (\S+) (.+)$")


def mtaharden_command() -> list[str]:
    """The installed console script next to this interpreter (or the same entry point via -c)."""
    script = Path(sys.executable).parent / "mtaharden"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from mtaharden.cli import main; sys.exit(main())"]


@dataclass(frozen=True)
class Expectation:
    line: int
    column: int
    path: str  # "" for a YAML-level problem (written "-" in the fixture)
    substring: str


def expectation(fixture: Path) -> Expectation:
    lines = fixture.read_text(encoding="utf-8").splitlines()
    header = EXPECT.match(lines[0]) if lines else None
    if header is None:
        raise ValueError(f"{fixture.name}: first line must be '# expect: LINE:COL PATH-OR-DASH SUBSTRING'")
    line, column, path, substring = header.groups()
    return Expectation(int(line), int(column), "" if path == "-" else path, substring)


def fixture_params() -> list[object]:
    return [pytest.param(fixture, id=fixture.stem) for fixture in sorted(FIXTURES.glob("*.yml"))]


FIXTURE_PARAMS = fixture_params()


def test_there_are_at_least_thirty_bad_policies() -> None:
    assert len(FIXTURE_PARAMS) >= 30


def test_every_fixture_name_is_unique_and_lower_case() -> None:
    names = [fixture.name for fixture in FIXTURES.glob("*.yml")]
    assert all(re.fullmatch(r"[a-z0-9_]+\.yml", name) for name in names), names


@pytest.mark.parametrize("fixture", FIXTURE_PARAMS)
def test_loader_reports_exactly_one_located_problem(fixture: Path) -> None:
    expected = expectation(fixture)
    with pytest.raises(PolicyError) as caught:
        load_policy(fixture)
    problems = caught.value.problems
    assert len(problems) == 1, [str(p) for p in problems]
    problem = problems[0]
    assert (problem.line, problem.column) == (expected.line, expected.column), str(problem)
    assert problem.path == expected.path, str(problem)
    assert expected.substring in f"{problem.message} (fix: {problem.hint})", str(problem)
    assert problem.hint, "every problem says how to fix it"


@pytest.mark.parametrize("fixture", FIXTURE_PARAMS)
def test_cli_refuses_bad_policy_and_writes_nothing(fixture: Path, tmp_path: Path) -> None:
    expected = expectation(fixture)
    command = mtaharden_command()
    # validate and render run side by side to keep the suite fast; both run in an empty folder.
    processes = {
        name: subprocess.Popen([*command, *args], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
        for name, args in (("validate", ["validate", str(fixture)]),
                           ("render", ["render", str(fixture), "--out", str(tmp_path / "out")]))
    }
    for name, process in processes.items():
        stdout, stderr = process.communicate(timeout=60)
        context = f"mtaharden {name} {fixture.name}:\n{stderr}"
        assert process.returncode == 2, context
        assert "Traceback" not in stderr, context
        assert stdout == "", context
        first = stderr.splitlines()[0] if stderr else ""
        prefix = f"{fixture}:{expected.line}:{expected.column}: "
        assert re.match(re.escape(prefix), first), context
        rest = first[len(prefix):]
        if expected.path:
            assert rest.startswith(f"{expected.path}: "), context
        assert expected.substring in rest, context
        assert "(fix: " in rest and first.endswith(")"), context
    assert not (tmp_path / "out").exists(), "render must not create its --out folder for a bad policy"
    assert list(tmp_path.iterdir()) == [], "a refused policy leaves no files behind"


def test_render_leaves_an_existing_output_untouched(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "postfix").mkdir(parents=True)
    marker = out / "postfix" / "main.cf"
    marker.write_text("previous render\n")
    bad = FIXTURES / "domain_injection.yml"
    result = subprocess.run([*mtaharden_command(), "render", str(bad), "--out", str(out)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2, result.stderr
    assert sorted(p.name for p in out.rglob("*")) == ["main.cf", "postfix"]
    assert marker.read_text() == "previous render\n"


def test_alias_bomb_fails_fast_in_the_cli() -> None:
    bomb = FIXTURES / "yaml_alias_bomb.yml"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run([*mtaharden_command(), "validate", str(bomb)], capture_output=True, text=True,
                            timeout=30, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)  # load-proof, unlike wall time
    assert result.returncode == 2, result.stderr
    assert cpu < 2.0, f"alias bomb took {cpu:.2f} CPU-s"


def test_alias_bomb_is_refused_before_expansion() -> None:
    levels = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    levels += [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]" for i in range(12)]
    started = time.perf_counter()
    with pytest.raises(PolicyError) as caught:
        load_policy_text("\n".join(levels) + "\n", "bomb.yml")
    assert time.perf_counter() - started < 0.5
    assert "aliases" in caught.value.problems[0].message
