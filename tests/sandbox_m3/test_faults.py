"""Gateway-level faults: scripted 5xx/429 with Retry-After, the quota knob, the call log."""

from __future__ import annotations

import time
from typing import Any

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


# Commit, then lose the answer: M3 runs the call, the gateway answers 502/503/504 instead.
def add_customer(m3: httpx.Client, cuno: str) -> httpx.Response:
    return m3.get(
        "/v2/execute/CRS610MI/Add",
        params={"CUTM": "TEMPLATE", "CUNO": cuno, "CUNM": "Lost Answer Bikes", "CUA1": "Street 1"},
    )


def customer_exists(m3: httpx.Client, cuno: str) -> bool:
    response = m3.get("/v2/execute/CRS610MI/GetBasicData", params={"CUNO": cuno})
    assert response.status_code in (200, 400), response.text
    return response.status_code == 200


def batch_heads(m3: httpx.Client, cuor: str) -> list[dict[str, str]]:
    response = m3.get("/v2/execute/OIS100MI/LstBatchHead", params={"CUOR": cuor, "righttrim": "true"})
    assert response.status_code == 200, response.text
    records: list[dict[str, str]] = response.json()["results"][0]["records"]
    return records


def test_after_commit_rule_commits_the_write_and_answers_504(m3: httpx.Client, admin: httpx.Client) -> None:
    admin.post(
        "/faults",
        json={"program": "CRS610MI", "transaction": "Add", "status": 504, "after_commit": True},
    ).raise_for_status()

    lost = add_customer(m3, "C000000777")
    retried = add_customer(m3, "C000000777")

    assert lost.status_code == 504
    assert lost.json() == {"code": 504, "message": "Gateway Timeout"}
    assert customer_exists(m3, "C000000777")
    # The rule is used up, and the blind retry meets the customer the lost call created.
    assert retried.status_code == 400
    first, second = admin.get("/calls", params={"transaction": "Add"}).json()
    assert (first["outcome"], first["status"], first["response"]) == (
        "lost_answer",
        504,
        {"CUNO": "C000000777"},
    )
    assert second["outcome"] == "nok"
    assert [c["seq"] for c in admin.get("/calls", params={"outcome": "lost_answer"}).json()] == [first["seq"]]


def test_after_commit_rule_on_v1_add_batch_head_with_delay(m3: httpx.Client, admin: httpx.Client) -> None:
    admin.post(
        "/faults",
        json={
            "program": "OIS100MI",
            "transaction": "AddBatchHead",
            "status": 502,
            "after_commit": True,
            "delay_seconds": 0.2,
        },
    ).raise_for_status()

    started = time.monotonic()
    lost = m3.get("/execute/OIS100MI/AddBatchHead", params={"CUNO": "C000000001", "CUOR": "BNG-LOST-1"})

    assert lost.status_code == 502
    assert time.monotonic() - started >= 0.2
    [head] = batch_heads(m3, "BNG-LOST-1")
    [call] = admin.get("/calls", params={"transaction": "AddBatchHead"}).json()
    assert (call["api"], call["outcome"], call["status"]) == ("v1", "lost_answer", 502)
    assert call["response"] == {"ORNO": head["ORNO"]}


def test_lost_answer_rate_hits_only_the_chosen_transaction(m3: httpx.Client, admin: httpx.Client) -> None:
    knobs = admin.post(
        "/knobs",
        json={
            "lost_answer_rate": 1.0,
            "lost_answer_status": 503,
            "lost_answer_transactions": ["OIS100MI/AddBatchHead"],
        },
    ).json()
    assert (knobs["lost_answer_rate"], knobs["lost_answer_status"]) == (1.0, 503)
    assert knobs["lost_answer_transactions"] == ["OIS100MI/AddBatchHead"]

    heads = [
        m3.get("/v2/execute/OIS100MI/AddBatchHead", params={"CUNO": "C000000001", "CUOR": "BNG-LOST-2"})
        for _ in range(2)
    ]
    other_write = add_customer(m3, "C000000778")
    other_program = m3.get("/v2/execute/ARS040MI/AddBatchHead", params={"PBID": "4711", "BOPE": "1"})

    assert [r.status_code for r in heads] == [503, 503]
    assert len(batch_heads(m3, "BNG-LOST-2")) == 2  # both committed
    assert other_write.status_code == 200
    assert customer_exists(m3, "C000000778")
    assert other_program.status_code == 200, other_program.text
    assert len(admin.get("/calls", params={"outcome": "lost_answer"}).json()) == 2


def test_lost_answer_rate_loses_every_write_and_no_read(m3: httpx.Client, admin: httpx.Client) -> None:
    admin.post("/knobs", json={"lost_answer_rate": 1.0}).raise_for_status()

    write = add_customer(m3, "C000000779")
    reads = [
        m3.get(GET_ITEM, params={"ITNO": "LOCK-U"}),
        m3.get("/execute/CRS610MI/LstByNumber", params={"CUNO": "C000000001"}),
        m3.get("/v2/execute/MMS060MI/List", params={"WHLO": "100"}),
        m3.get("/v2/execute/CRS610MI/SearchCustomer", params={"SQRY": "CUNM:Velo*"}),
    ]

    assert write.status_code == 504  # the default status
    assert [r.status_code for r in reads] == [200] * len(reads)
    assert customer_exists(m3, "C000000779")

    # A program name selects all its writes; null puts the filter back to every write.
    admin.post("/knobs", json={"lost_answer_transactions": ["MMS200MI"]}).raise_for_status()
    assert add_customer(m3, "C000000780").status_code == 200
    assert (
        admin.post("/knobs", json={"lost_answer_transactions": None}).json()["lost_answer_transactions"]
        is None
    )
    assert add_customer(m3, "C000000781").status_code == 504
    # null switches the rate off.
    assert admin.post("/knobs", json={"lost_answer_rate": None}).json()["lost_answer_rate"] == 0.0
    assert add_customer(m3, "C000000782").status_code == 200


def test_bulk_answer_is_lost_when_any_of_its_writes_is_chosen(m3: httpx.Client, admin: httpx.Client) -> None:
    admin.post(
        "/knobs", json={"lost_answer_rate": 1.0, "lost_answer_transactions": ["OIS100MI/AddBatchHead"]}
    ).raise_for_status()
    reads_only = {"program": "OIS100MI", "transactions": [{"transaction": "LstBatchHead", "record": {}}]}
    mixed = {
        "program": "OIS100MI",
        "transactions": [
            {"transaction": "LstBatchHead", "record": {}},
            {"transaction": "AddBatchHead", "record": {"CUNO": "C000000001", "CUOR": "BNG-BULK-1"}},
            {"transaction": "AddBatchHead", "record": {"CUNO": "C000000001", "CUOR": "BNG-BULK-2"}},
        ],
    }

    assert m3.post("/v2/execute", json=reads_only).status_code == 200
    lost = m3.post("/v2/execute", json=mixed)

    assert lost.status_code == 504
    assert len(batch_heads(m3, "BNG-BULK-1")) == len(batch_heads(m3, "BNG-BULK-2")) == 1
    calls = admin.get("/calls", params={"outcome": "lost_answer"}).json()
    assert [(c["api"], c["transaction"]) for c in calls] == [
        ("bulk", "LstBatchHead"),
        ("bulk", "AddBatchHead"),
        ("bulk", "AddBatchHead"),
    ]


def test_lost_answer_knobs_are_validated(admin: httpx.Client) -> None:
    refused: list[dict[str, Any]] = [
        {"lost_answer_rate": 1.5},
        {"lost_answer_status": 500},
        {"lost_answer_transactions": ["OIS100MI/"]},
        {"lost_answer_transactions": ["A/B/C"]},
        {"error_5xx_statuses": [429]},
        {"error_5xx_statuses": []},
    ]
    for bad in refused:
        assert admin.post("/knobs", json=bad).status_code == 422, bad
    assert admin.post("/knobs", json={"lost_answer_transactions": ["ois100mi/Confirm"]}).json()[
        "lost_answer_transactions"
    ] == ["OIS100MI/Confirm"]


def test_error_rate_5xx_fails_before_commit_with_the_chosen_statuses(
    m3: httpx.Client, admin: httpx.Client
) -> None:
    assert admin.get("/knobs").json()["error_5xx_statuses"] == [500, 503]
    admin.post("/knobs", json={"error_rate_5xx": 1.0, "error_5xx_statuses": [502, 504]}).raise_for_status()

    statuses = {add_customer(m3, "C000000783").status_code for _ in range(30)}

    assert statuses == {502, 504}
    assert {c["outcome"] for c in admin.get("/calls").json()} == {"fault"}
    admin.post("/knobs", json={"error_rate_5xx": 0, "error_5xx_statuses": None}).raise_for_status()
    assert admin.get("/knobs").json()["error_5xx_statuses"] == [500, 503]
    assert not customer_exists(m3, "C000000783")
