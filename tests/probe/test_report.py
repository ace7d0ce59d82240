"""The JSON document written in pieces, one host at a time (issue 25), is the document built whole."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from mtaharden.probe import Endpoint, HostResult
from mtaharden.probe.report import json_document, to_json
from tests.probe.fakes import FakeSmtp, open_rcpt, run_probe


@pytest.mark.parametrize("count", [0, 1, 3])
def test_the_document_in_pieces_is_the_document_built_whole(serve: Callable[[FakeSmtp], FakeSmtp],
                                                            count: int) -> None:
    probed = [run_probe(serve(FakeSmtp())), run_probe(serve(FakeSmtp(rcpt=open_rcpt)))]
    results = [*probed, HostResult(Endpoint("192.0.2.9", 25), error="cannot connect: refused \"quoted\"\n")][:count]
    whole = json.dumps(to_json(results, 1), indent=2)
    assert "".join(json_document(iter(results), 1)) == whole
    assert len(json.loads(whole)["hosts"]) == count
