"""A bounded HTTP GET of JSON: one timeout, a size cap, http(s) only, no cookies, no proxies from the message."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from . import LookupFailed

MAX_BODY = 2 * 2**20


def get_json(url: str, timeout: float, accept: str = "application/rdap+json, application/json") -> Any:
    if not url.startswith(("http://", "https://")):
        raise LookupFailed(f"{url} is not an http(s) address")
    request = urllib.request.Request(url, headers={"Accept": accept, "User-Agent": "mtaharden-trace"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read(MAX_BODY + 1)
    except urllib.error.HTTPError as exc:
        raise LookupFailed(f"HTTP {exc.code} from {url}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise LookupFailed(f"{url}: {reason}") from None
    if len(body) > MAX_BODY:
        raise LookupFailed(f"{url}: answer larger than {MAX_BODY // 2**20} MiB")
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise LookupFailed(f"{url}: the answer is not JSON") from None
