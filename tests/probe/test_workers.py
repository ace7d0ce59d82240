"""Issue 25: a fleet shared over worker processes gives what one process gives, and loses no host."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable

import pytest
from click.testing import CliRunner

from mtaharden.probe import Endpoint, HostResult, ProbeOptions
from mtaharden.probe import workers as workers_module
from mtaharden.probe.cli import probe
from mtaharden.probe.workers import auto_workers, probe_sharded
from tests.probe.fakes import FAST, FakeSmtp, open_rcpt, strict_mail

Serve = Callable[[FakeSmtp], FakeSmtp]
BEHAVIOURS: list[dict[str, object]] = [
    {}, {"rcpt": open_rcpt}, {"mail": lambda path: "553 5.1.8 sender rejected"},
    {"rcpt": lambda path: "450 4.2.0 Greylisted"}, {"mail": strict_mail, "rcpt": open_rcpt},
]


def _fleet(serve: Serve) -> list[FakeSmtp]:
    return [serve(FakeSmtp(**behaviour)) for behaviour in BEHAVIOURS * 2]  # type: ignore[arg-type]


def _judged(results: Iterable[HostResult]) -> dict[str, tuple[str, list[tuple[str, str, str | None]]]]:
    return {str(result.endpoint): (result.status.value, [(case.case.id, case.verdict.value, str(case.rcpt_reply))
                                                         for case in result.cases]) for result in results}


def test_workers_judge_every_host_as_one_process_does(serve: Serve) -> None:
    servers = _fleet(serve)
    endpoints = [Endpoint(server.host, server.port) for server in servers]
    options = ProbeOptions(session=FAST, deadline=20)
    one = list(probe_sharded(endpoints, options, expectations=None, concurrency=4, workers=1))
    three = list(probe_sharded(endpoints, options, expectations=None, concurrency=4, workers=3))
    assert len(three) == len(endpoints) and len({result.endpoint for result in three}) == len(endpoints)
    assert _judged(three) == _judged(one)
    assert {status for status, _ in _judged(three).values()} == {"closed", "suspect", "inconclusive"}


def _crash(*args: object, **kwargs: object) -> None:
    os._exit(3)


def test_a_worker_that_dies_leaves_its_hosts_as_errors(serve: Serve, monkeypatch: pytest.MonkeyPatch) -> None:
    servers = _fleet(serve)[:4]
    endpoints = [Endpoint(server.host, server.port) for server in servers]
    monkeypatch.setattr(workers_module, "probe_stream", _crash)  # forked workers inherit the patch
    results = list(probe_sharded(endpoints, ProbeOptions(session=FAST), expectations=None, concurrency=2, workers=2))
    assert sorted(result.endpoint for result in results) == sorted(endpoints)
    assert all(result.error and "worker process ended (exit code 3)" in result.error for result in results)


def _records(output: str) -> list[dict[str, object]]:
    records = [json.loads(line) for line in output.splitlines()]
    for record in records:
        record.pop("duration_s", None)
    return records


def test_the_command_gives_the_same_records_with_workers(serve: Serve) -> None:
    targets = [server.target for server in _fleet(serve)]
    args = ["--timeout", "2", "--deadline", "20", "--format", "json", *targets]
    one = CliRunner().invoke(probe, [*args, "--workers", "1"], catch_exceptions=False)
    two = CliRunner().invoke(probe, [*args, "--workers", "2"], catch_exceptions=False)
    assert one.exit_code == two.exit_code == 1
    hosts = [json.loads(result.output)["hosts"] for result in (one, two)]
    for document in hosts:
        for host in document:
            host.pop("duration_s")
    assert hosts[0] == hosts[1]  # same hosts, same order (input order), same judgement
    assert [host["target"] for host in hosts[1]] == targets
    streamed = CliRunner().invoke(probe, [*args[:-len(targets)], "--format", "jsonl", "--workers", "2", *targets])
    assert sorted(map(str, _records(streamed.output))) == sorted(map(str, _records(
        CliRunner().invoke(probe, [*args[:-len(targets)], "--format", "jsonl", "--workers", "1", *targets]).output)))


def test_proofs_stay_in_one_process() -> None:
    result = CliRunner().invoke(probe, ["127.0.0.1:1", "--workers", "2", "--confirm", "--canary", "127.0.0.1:2"])
    assert result.exit_code == 2 and "--workers goes without --confirm and --proof" in result.output


def test_auto_uses_one_process_for_a_short_list() -> None:
    assert auto_workers(1) == 1 and auto_workers(199) == 1
    assert 1 <= auto_workers(100_000) <= min(8, len(os.sched_getaffinity(0)))
