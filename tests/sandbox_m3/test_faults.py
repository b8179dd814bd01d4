"""Gateway-level faults: scripted 5xx/429 with Retry-After, the quota knob, the call log."""

from __future__ import annotations

import time

import httpx

GET_ITEM = "/v2/execute/MMS200MI/GetItmBasic"


def test_scripted_503_fails_count_times_then_succeeds(m3: httpx.Client, admin: httpx.Client) -> None:
    admin.post(
        "/faults", json={"program": "MMS200MI", "transaction": "GetItmBasic", "status": 503, "count": 2}
    )

    statuses = [m3.get(GET_ITEM, params={"ITNO": "LOCK-U"}).status_code for _ in range(3)]
    other = m3.get("/v2/execute/CRS610MI/GetBasicData", params={"CUNO": "C000000001"})

    assert statuses == [503, 503, 200]
    assert other.status_code == 200
    outcomes = [c["outcome"] for c in admin.get("/calls", params={"transaction": "GetItmBasic"}).json()]
    assert outcomes == ["fault", "fault", "ok"]


def test_scripted_429_carries_retry_after(m3: httpx.Client, admin: httpx.Client) -> None:
    admin.post("/faults", json={"status": 429, "count": 1, "retry_after": 7})

    throttled = m3.get(GET_ITEM, params={"ITNO": "LOCK-U"})
    retried = m3.get(GET_ITEM, params={"ITNO": "LOCK-U"})

    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "7"
    assert retried.status_code == 200


def test_bulk_calls_can_be_faulted(m3: httpx.Client, admin: httpx.Client) -> None:
    admin.post("/faults", json={"program": "OIS100MI", "status": 502, "count": 1, "delay_seconds": 0.05})
    body = {"program": "OIS100MI", "transactions": [{"transaction": "LstBatchHead", "record": {}}]}

    assert m3.post("/v2/execute", json=body).status_code == 502
    assert m3.post("/v2/execute", json=body).status_code == 200


def test_rate_limit_knob_answers_429(m3: httpx.Client, admin: httpx.Client) -> None:
    admin.post("/knobs", json={"rate_limit_per_second": 2}).raise_for_status()

    statuses = [m3.get(GET_ITEM, params={"ITNO": "LOCK-U"}) for _ in range(4)]

    assert [r.status_code for r in statuses] == [200, 200, 429, 429]
    assert statuses[2].headers["Retry-After"] == "1"


def test_call_log_records_records_and_nok(m3: httpx.Client, admin: httpx.Client) -> None:
    m3.get("/execute/MMS200MI/GetItmBasic", params={"ITNO": "SCOOTER-X", "righttrim": "true"})

    [call] = admin.get("/calls", params={"program": "MMS200MI"}).json()

    assert (call["api"], call["transaction"], call["outcome"], call["code"]) == (
        "v1",
        "GetItmBasic",
        "nok",
        "WIT0203",
    )
    assert call["record"] == {"ITNO": "SCOOTER-X"}


def test_latency_knob_slows_every_call(m3: httpx.Client, admin: httpx.Client) -> None:
    admin.post("/knobs", json={"latency_ms": 300}).raise_for_status()

    started = time.monotonic()
    response = m3.get(GET_ITEM, params={"ITNO": "LOCK-U"})

    assert response.status_code == 200
    assert time.monotonic() - started >= 0.3


def test_call_log_shows_the_response_and_the_record_of_faulted_calls(
    m3: httpx.Client, admin: httpx.Client
) -> None:
    admin.post(
        "/faults", json={"program": "OIS100MI", "transaction": "AddBatchHead", "status": 500, "count": 1}
    )

    failed = m3.get("/v2/execute/OIS100MI/AddBatchHead", params={"CUNO": "C000000001", "CUOR": "BNG-77"})
    ok = m3.get("/v2/execute/OIS100MI/AddBatchHead", params={"CUNO": "C000000001", "CUOR": "BNG-77"})

    assert (failed.status_code, ok.status_code) == (500, 200)
    fault, done = admin.get("/calls", params={"transaction": "AddBatchHead"}).json()
    assert (fault["outcome"], fault["status"], fault["record"]["CUOR"]) == ("fault", 500, "BNG-77")
    assert "response" not in fault
    assert done["response"] == {"ORNO": "9000000001"}
