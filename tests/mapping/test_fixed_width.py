"""The GLS850 position-based PARM layout: declared as data, checked at load, rendered and parsed."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mapping.fixed_width import (
    MAX_LENGTH,
    FixedWidthError,
    FixedWidthLayout,
    load_gl_layout,
    load_layout_file,
    parse,
    render,
)
from mapping.spec import MappingSpecError

VALUES = {
    "ACDT": "20260315",
    "AIT1": "1910",
    "AIT2": "100",
    "CUCD": "EUR",
    "CUAM": "-1234.5",
    "VTXT": "JJRN-7 Bank fees",
    "VDSC": "March",
}


def test_gl_layout_positions_are_the_contract() -> None:
    layout = load_gl_layout()
    assert layout.interface == "BNGJOURNAL"
    positions = {field.name: (field.start, field.end, field.type) for field in layout.fields}
    assert positions == {
        "ACDT": (1, 8, "date"),
        "AIT1": (9, 16, "text"),
        "AIT2": (17, 24, "text"),
        "CUCD": (25, 27, "text"),
        "CUAM": (28, 44, "amount"),
        "VTXT": (45, 84, "text"),
        "VDSC": (85, 114, "text"),
    }
    assert layout.length == 114


def test_render_puts_each_field_at_its_positions() -> None:
    parm = render(VALUES)
    assert len(parm) == 114
    assert parm[0:8] == "20260315"
    assert parm[8:16] == "1910    "
    assert parm[16:24] == "100     "
    assert parm[24:27] == "EUR"
    assert parm[27:44] == "         -1234.50"  # the contract's example
    assert parm[44:84] == "JJRN-7 Bank fees".ljust(40)
    assert parm[84:114] == "March".ljust(30)


def test_render_amounts() -> None:
    def cuam(amount: object) -> str:
        return render({**VALUES, "CUAM": amount})[27:44]

    assert cuam(Decimal("1000")) == "1000.00".rjust(17)
    assert cuam("0") == "0.00".rjust(17)
    assert cuam("-0.00") == "0.00".rjust(17)
    assert cuam(7) == "7.00".rjust(17)
    assert cuam("-9999999999999.99") == "-9999999999999.99"  # exactly 17 characters
    with pytest.raises(FixedWidthError, match="needs 18 characters, the field holds 17"):
        cuam("-99999999999999.99")
    with pytest.raises(FixedWidthError, match="more than 2 decimals"):
        cuam("10.005")
    with pytest.raises(FixedWidthError, match="not a number"):
        cuam("1,5")


def test_render_dates() -> None:
    assert render({**VALUES, "ACDT": date(2026, 1, 2)})[0:8] == "20260102"
    assert render({**VALUES, "ACDT": "2026-01-02"})[0:8] == "20260102"
    with pytest.raises(FixedWidthError, match="ACDT: '20261302' is not a date"):
        render({**VALUES, "ACDT": "20261302"})


def test_render_refuses_too_long_text_instead_of_cutting() -> None:
    assert render({**VALUES, "VTXT": "V" * 40})[44:84] == "V" * 40
    with pytest.raises(FixedWidthError) as raised:
        render({**VALUES, "VTXT": "V" * 41, "AIT1": "123456789"})
    assert [field for field, _ in raised.value.problems] == ["AIT1", "VTXT"]
    assert "'123456789' is 9 characters, the field holds 8" in str(raised.value)


def test_render_truncates_only_where_the_layout_says_so() -> None:
    layout = FixedWidthLayout(
        interface="T",
        fields=[
            {"name": "CODE", "start": 1, "length": 4},
            {"name": "NOTE", "start": 6, "length": 5, "truncate": True},
        ],
    )
    assert layout.render({"CODE": "AB", "NOTE": "cut this text"}) == "AB   cut t"
    assert layout.parse("AB   cut t") == {"CODE": "AB", "NOTE": "cut t"}
    with pytest.raises(FixedWidthError):
        layout.render({"CODE": "ABCDE"})


def test_render_required_and_unknown_fields() -> None:
    with pytest.raises(FixedWidthError) as raised:
        render({"AIT1": "1910", "CUCD": "EUR", "CUAM": "1", "VTXT": "x", "AIT9": "?"})
    problems = dict(raised.value.problems)
    assert problems["ACDT"] == "ACDT: required value is empty"
    assert "AIT9: not a field of interface BNGJOURNAL" in problems["AIT9"]
    # Optional fields may be absent: blanks.
    parm = render({key: value for key, value in VALUES.items() if key not in ("AIT2", "VDSC")})
    assert parm[16:24] == " " * 8
    assert parm[84:] == " " * 30


def test_parse_is_the_inverse_of_render() -> None:
    parm = render(VALUES)
    assert parse(parm) == {
        "ACDT": date(2026, 3, 15),
        "AIT1": "1910",
        "AIT2": "100",
        "CUCD": "EUR",
        "CUAM": Decimal("-1234.50"),
        "VTXT": "JJRN-7 Bank fees",
        "VDSC": "March",
    }
    assert render(parse(parm)) == parm
    # M3 may trim trailing blanks; parse reads the PARM as if padded.
    assert parse(parm.rstrip()) == parse(parm)


def test_parse_refuses_malformed_records() -> None:
    parm = render(VALUES)
    with pytest.raises(FixedWidthError, match="not a number"):
        parse(parm[:27] + "12,50".rjust(17) + parm[44:])
    with pytest.raises(FixedWidthError, match="not right-aligned"):
        parse(parm[:27] + "12.50".ljust(17) + parm[44:])
    with pytest.raises(FixedWidthError, match="after position 114"):
        parse(parm + "extra")
    with pytest.raises(FixedWidthError, match="ACDT: required value is blank"):
        parse(" " * 8 + parm[8:])


@given(
    ait1=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", min_size=1, max_size=8),
    cents=st.integers(min_value=-(10**15) + 1, max_value=10**15 - 1),
    vtxt=st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=40),
    day=st.dates(min_value=date(1900, 1, 1), max_value=date(9999, 12, 31)),
)
def test_round_trip(ait1: str, cents: int, vtxt: str, day: date) -> None:
    values = {"ACDT": day, "AIT1": ait1, "CUCD": "SEK", "CUAM": Decimal(cents).scaleb(-2), "VTXT": vtxt}
    parm = render(values)
    assert len(parm) == 114
    assert parse(parm) == values


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "layout.yaml"
    path.write_text(text)
    return path


def test_layout_overlap_is_refused_at_load(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "interface: X\nfields:\n  - {name: A, start: 1, length: 8}\n  - {name: B, start: 8, length: 2}\n",
    )
    with pytest.raises(MappingSpecError, match=r"B \(8-9\) overlaps A \(1-8\)"):
        load_layout_file(path)


def test_layout_longer_than_the_parm_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, f"interface: X\nfields:\n  - {{name: A, start: {MAX_LENGTH}, length: 2}}\n")
    with pytest.raises(MappingSpecError, match="past the 900-character PARM"):
        load_layout_file(path)
    ok = write(tmp_path, f"interface: X\nfields:\n  - {{name: A, start: {MAX_LENGTH}, length: 1}}\n")
    assert load_layout_file(ok).length == MAX_LENGTH


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("{name: A, start: 1, length: 5, type: amount}", "an amount needs decimals"),
        ("{name: A, start: 1, length: 5, decimals: 2}", "decimals only apply to amounts"),
        ("{name: A, start: 1, length: 6, type: date}", "a date is 8 characters"),
        ("{name: A, start: 0, length: 6}", "greater than or equal to 1"),
        ("{name: A, start: 1, length: 8, type: date, truncate: true}", "truncate only applies to text"),
        ("{name: A, start: 1, length: 4, type: amount, decimals: 2}", "cannot hold a signed amount"),
        ("{name: A, start: 1, length: 4, typo: 1}", "Extra inputs are not permitted"),
    ],
)
def test_layout_field_checks(tmp_path: Path, field: str, message: str) -> None:
    with pytest.raises(MappingSpecError, match=message):
        load_layout_file(write(tmp_path, f"interface: X\nfields:\n  - {field}\n"))


def test_layout_duplicate_names(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "interface: X\nfields:\n  - {name: A, start: 1, length: 2}\n  - {name: A, start: 3, length: 2}\n",
    )
    with pytest.raises(MappingSpecError, match="declared twice"):
        load_layout_file(path)
