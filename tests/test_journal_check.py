"""Journal validation and the GLS840MI batch it builds, including refunds."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from activities.journal_check import (
    REFUND_PREFIX,
    batch_key,
    check_journal,
    refund_journal,
)
from mapping.finance import GlSettings, RefundPosting
from mapping.fixed_width import parse


def journal(*lines: dict[str, Any], **changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "JournalID": "JRN-2026-0042",
        "JournalDate": "2026-03-31",
        "Description": "March accruals",
        "Lines": list(lines)
        or [
            {"LineNumber": 1, "Account": "OFFICE", "CostCenter": "HQ", "Debit": "1000.00", "Currency": "EUR"},
            {
                "LineNumber": 2,
                "Account": "AP",
                "Credit": "1000.00",
                "Currency": "EUR",
                "Description": "Supplier",
            },
        ],
        "Status": "Received",
    }
    document.update(changes)
    return document


def line(
    number: int, account: str, *, debit: str = "0", credit: str = "0", currency: str = "EUR", **more: Any
) -> dict[str, Any]:
    return {
        "LineNumber": number,
        "Account": account,
        "Debit": debit,
        "Credit": credit,
        "Currency": currency,
        **more,
    }


def messages(result: Any) -> list[str]:
    return [issue.message for issue in result.issues]


def test_a_balanced_journal_becomes_a_batch() -> None:
    result = check_journal(journal())
    assert result.ok, messages(result)
    assert result.key == "JJRN-2026-0042"
    assert result.head == {"KEY1": "JJRN-2026-0042", "INTN": "BNGJOURNAL", "DESC": "March accruals"}
    assert [number for number, _ in result.lines] == [1, 2]
    first, second = (parse(parm) for _, parm in result.lines)
    assert first == {
        "ACDT": date(2026, 3, 31),
        "AIT1": "6110",
        "AIT2": "100",
        "CUCD": "EUR",
        "CUAM": Decimal("1000.00"),
        "VTXT": "JJRN-2026-0042 March accruals",
        "VDSC": "March accruals",
    }
    assert second["CUAM"] == Decimal("-1000.00")
    assert second["AIT1"] == "2440"
    assert second["VTXT"] == "JJRN-2026-0042 Supplier"
    assert "AIT2" not in second
    # The contract's positions: the amount sits right-aligned in 28-44.
    assert result.lines[1][1][27:44] == "         -1000.00"
    assert all(parm[44:].startswith(result.key) for _, parm in result.lines)
    assert [(t.currency, t.debit, t.credit) for t in result.totals] == [("EUR", Decimal(1000), Decimal(1000))]


def test_division_goes_to_the_batch_head() -> None:
    assert check_journal(journal(), division="100").head["DIVI"] == "100"


def test_unbalanced_names_the_difference() -> None:
    result = check_journal(journal(line(1, "OFFICE", debit="1000.00"), line(2, "BANK", credit="990.00")))
    assert messages(result) == ["EUR: debits 1,000.00, credits 990.00, difference 10.00"]
    assert result.lines == []
    assert result.key == "JJRN-2026-0042"  # known even when the journal is refused


def test_unbalanced_in_one_of_two_currencies() -> None:
    result = check_journal(
        journal(
            line(1, "OFFICE", debit="500.00", currency="EUR"),
            line(2, "BANK", credit="500.00", currency="EUR"),
            line(3, "IT", debit="1250.00", currency="SEK"),
            line(4, "BANK", credit="1250.01", currency="sek"),
        )
    )
    assert messages(result) == ["SEK: debits 1,250.00, credits 1,250.01, difference 0.01"]
    # Balanced across currencies is not balanced.
    crossed = check_journal(
        journal(line(1, "OFFICE", debit="10", currency="EUR"), line(2, "BANK", credit="10", currency="USD"))
    )
    assert messages(crossed) == [
        "EUR: debits 10.00, credits 0.00, difference 10.00",
        "USD: debits 0.00, credits 10.00, difference 10.00",
    ]


@pytest.mark.parametrize(
    ("debit", "credit", "expected"),
    [
        ("5.00", "5.00", "line 2: has both a Debit and a Credit; a line is exactly one of them, above zero"),
        ("0", "0", "line 2: has neither a Debit nor a Credit; a line is exactly one of them, above zero"),
        ("-5.00", "0", "line 2: Debit -5.00 is negative; use the other column"),
        ("5.005", "0", "line 2: Debit 5.005 has more than 2 decimals"),
        ("five", "0", "line 2: Debit 'five' is not a number"),
    ],
)
def test_each_line_is_exactly_one_of_debit_or_credit(debit: str, credit: str, expected: str) -> None:
    result = check_journal(
        journal(
            line(1, "OFFICE", debit="5.00"),
            line(2, "BANK", debit=debit, credit=credit),
            line(3, "AP", credit="5.00"),
        )
    )
    assert expected in messages(result)
    assert next(issue for issue in result.issues if issue.message == expected).line == 2


def test_closed_period() -> None:
    result = check_journal(journal(JournalDate="2025-12-31"))
    assert messages(result) == [
        "JournalDate 2025-12-31 is in a closed period: postings are open from 2026-01-01"
    ]
    assert result.issues[0].field == "JournalDate"
    # The first open day is open.
    assert check_journal(journal(JournalDate="2026-01-01")).ok
    # The calendar is data.
    later = GlSettings(
        open_from=date(2026, 4, 1), refund=RefundPosting(debit_account="A", credit_account="B")
    )
    assert not check_journal(journal(), settings=later).ok


def test_missing_or_bad_date() -> None:
    assert messages(check_journal(journal(JournalDate=None))) == ["JournalDate is empty"]
    assert messages(check_journal(journal(JournalDate="31.03.2026"))) == [
        "JournalDate: cannot read date '31.03.2026' (expected iso)"
    ]


def test_unknown_account_and_cost_centre_name_line_and_value() -> None:
    result = check_journal(
        journal(
            line(1, "OFFICE", debit="10.00", CostCenter="MARKETING"),
            line(2, "PETTY-CASH", credit="10.00"),
        )
    )
    assert messages(result) == [
        "line 1: cost centre 'MARKETING' is not mapped to M3 AIT2 (lookup table gl_cost_centres)",
        "line 2: account 'PETTY-CASH' is not mapped to M3 AIT1 (lookup table gl_accounts)",
    ]
    assert [(issue.field, issue.line) for issue in result.issues] == [("CostCenter", 1), ("Account", 2)]


def test_line_numbers_name_the_bng_line_not_the_position() -> None:
    result = check_journal(journal(line(10, "OFFICE", debit="1"), line(20, "NOPE", credit="1")))
    assert messages(result) == ["line 20: account 'NOPE' is not mapped to M3 AIT1 (lookup table gl_accounts)"]
    assert result.issues[0].line == 20


def test_duplicate_line_numbers_and_too_few_lines() -> None:
    duplicate = check_journal(journal(line(1, "OFFICE", debit="1"), line(1, "BANK", credit="1")))
    assert messages(duplicate) == ["line 1: LineNumber 1 is used twice"]
    single = check_journal(journal(line(1, "OFFICE", debit="0.00", credit="0.00"), Lines=[]))
    assert "a journal needs at least two lines" in messages(single)


def test_missing_currency_is_reported_by_the_map() -> None:
    result = check_journal(journal(line(1, "OFFICE", debit="1"), line(2, "BANK", credit="1", currency="")))
    assert "line 2: CUCD: required value is empty (from Currency)" in messages(result)


@pytest.mark.parametrize(
    "document_id",
    ["1", "ABC-123_x", "J" * 14],
)
def test_batch_key_is_the_id_when_it_fits(document_id: str) -> None:
    assert batch_key("J", document_id) == "J" + document_id


@pytest.mark.parametrize(
    "document_id",
    ["J" * 15, "JRN/2026/0042", "jrn 1", "Journal-2026-000000042", "ümlaut"],
)
def test_batch_key_is_a_hash_when_it_does_not(document_id: str) -> None:
    key = batch_key("J", document_id)
    assert len(key) == 15
    assert re.fullmatch(r"J[A-Z2-7]{14}", key)
    assert key == batch_key("J", document_id)  # deterministic
    assert key != batch_key("J", document_id + "x")


def test_batch_key_prefixes() -> None:
    assert batch_key("R", "RF-1") == "RRF-1"
    assert batch_key("R", "X" * 30)[0] == "R"
    assert batch_key("R", "X" * 30)[1:] == batch_key("J", "X" * 30)[1:]
    with pytest.raises(ValueError, match="prefix"):
        batch_key("", "1")
    with pytest.raises(ValueError, match="prefix"):
        batch_key("R/", "1")
    with pytest.raises(ValueError, match="document id"):
        batch_key("J", "")


def test_missing_journal_id() -> None:
    result = check_journal(journal(JournalID=""))
    assert "JournalID is empty" in messages(result)
    assert "KEY1: required value is empty (from context.KEY1)" in messages(result)


REFUND = {
    "RefundID": "RF-2026-77",
    "PaymentID": "PAY-9",
    "OrderID": "BNG-2026-000042",
    "Amount": "59.90",
    "Currency": "EUR",
    "Reason": "Helmet returned",
    "RefundedAt": "2026-04-02T23:30:00+02:00",
}


def test_refund_journal_debits_refunds_and_credits_card_clearing() -> None:
    document = refund_journal(REFUND)
    assert document["JournalID"] == "RF-2026-77"
    assert document["JournalDate"] == "2026-04-02"  # the business day as BNG wrote it
    result = check_journal(document, key_prefix=REFUND_PREFIX)
    assert result.ok, messages(result)
    assert result.key == "RRF-2026-77"
    debit, credit = (parse(parm) for _, parm in result.lines)
    assert (debit["AIT1"], debit["CUAM"], debit["CUCD"]) == ("3090", Decimal("59.90"), "EUR")
    assert (credit["AIT1"], credit["CUAM"]) == ("1930", Decimal("-59.90"))
    assert debit["VTXT"].startswith("RRF-2026-77 Refund RF-2026-77")


def test_refund_accounts_are_data() -> None:
    accounts = RefundPosting(debit_account="SALES", credit_account="BANK", cost_center="SALES")
    result = check_journal(refund_journal({**REFUND, "Currency": "sek"}, accounts), key_prefix=REFUND_PREFIX)
    assert result.ok, messages(result)
    debit, credit = (parse(parm) for _, parm in result.lines)
    assert (debit["AIT1"], debit["AIT2"], debit["CUCD"]) == ("3010", "200", "SEK")
    assert credit["AIT1"] == "1910"


def test_refund_in_a_closed_period_is_refused() -> None:
    result = check_journal(refund_journal({**REFUND, "RefundedAt": "2025-12-31T12:00:00Z"}), key_prefix="R")
    assert messages(result) == [
        "JournalDate 2025-12-31 is in a closed period: postings are open from 2026-01-01"
    ]


def test_the_sandbox_reads_our_parm_as_we_wrote_it() -> None:
    gl = pytest.importorskip("sandbox.m3.gl")
    layout = {(f.name, f.start, f.end) for f in gl.BNGJOURNAL.fields}
    from mapping.fixed_width import load_gl_layout

    assert layout == {(f.name, f.start, f.end) for f in load_gl_layout().fields}
    result = check_journal(journal())
    for number, parm in result.lines:
        for sent in (parm, parm.rstrip()):  # also as M3 might trim it
            checked = gl.parse_line(gl.BNGJOURNAL, number, sent, date(2026, 1, 1))
            assert checked.problems == []
            assert checked.journal_line.vtxt.startswith(result.key)
    amounts = [gl.parse_line(gl.BNGJOURNAL, n, p, date(2026, 1, 1)).cuam for n, p in result.lines]
    assert amounts == [Decimal("1000.00"), Decimal("-1000.00")]
