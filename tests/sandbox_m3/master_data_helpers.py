"""Shared helpers for the master-data tests: v2 calls that may fail, and paging a list."""

from __future__ import annotations

from typing import Any

import httpx


def v2(client: httpx.Client, program: str, transaction: str, **fields: str) -> httpx.Response:
    return client.get(f"/v2/execute/{program}/{transaction}", params={**fields, "righttrim": "true"})


def v2_rows(client: httpx.Client, program: str, transaction: str, **fields: str) -> list[dict[str, str]]:
    response = v2(client, program, transaction, **fields)
    assert response.status_code == 200, response.text
    records: list[dict[str, str]] = response.json()["results"][0]["records"]
    return records


def v2_error(client: httpx.Client, program: str, transaction: str, **fields: str) -> dict[str, Any]:
    """The top-level error keys of a failed v2 call (HTTP 400)."""
    response = v2(client, program, transaction, **fields)
    assert response.status_code == 400, response.text
    body: dict[str, Any] = response.json()
    return {key: body[key] for key in ("errorCode", "errorField", "errorMessage", "errorType")}


def page_through(
    client: httpx.Client, program: str, transaction: str, key: str, maxrecs: int, **fields: str
) -> tuple[list[str], int]:
    """Page a list the way the integration does: each page starts at the last key seen (the start
    key is inclusive, so the repeated first row is skipped). Returns (keys, number of calls).

    With an inclusive start key a page of one row can never move on, so maxrecs must be at least 2.
    """
    assert maxrecs >= 2
    keys: list[str] = []
    start = ""
    calls = 0
    while True:
        params = {**fields, "maxrecs": str(maxrecs)}
        if start:
            params[key] = start
        rows = v2_rows(client, program, transaction, **params)
        calls += 1
        assert len(rows) <= maxrecs
        page = [row[key] for row in rows]
        if start and page and page[0] == start:
            page = page[1:]
        keys.extend(page)
        if len(rows) < maxrecs:
            return keys, calls
        assert rows[-1][key] != start, "no progress"
        start = rows[-1][key]
