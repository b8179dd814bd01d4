"""The sandbox tenant's general-ledger set-up, declared as data: its chart of accounts (AIT1), cost
centres (AIT2), and its GLS850 interface definition `BNGJOURNAL` (position-based, usage type 1).

Real tenants define their own PARM layout in GLS850 (m3-p2p.md §6: there is no standard one); this
one is the contract's. Closed periods come from `M3SandboxConfig.gl_open_from`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

ACCOUNTS: dict[str, str] = {
    "1510": "Accounts receivable",
    "1910": "Bank",
    "1930": "Card clearing",
    "2440": "Accounts payable",
    "3010": "Sales",
    "3090": "Sales returns and refunds",
    "4010": "Purchases",
    "4090": "Price variance",
    "6110": "Office expenses",
    "6540": "IT expenses",
    "7010": "Salaries",
}
COST_CENTRES: dict[str, str] = {
    "100": "Sales",
    "200": "Purchasing",
    "300": "Warehouse",
    "900": "Administration",
}


@dataclass(frozen=True)
class InterfaceField:
    name: str
    start: int  # 1-based, inclusive
    end: int  # inclusive
    description: str

    def cut(self, parm: str) -> str:
        return parm[self.start - 1 : self.end].strip()


@dataclass(frozen=True)
class Interface:
    name: str
    description: str
    fields: tuple[InterfaceField, ...]

    @property
    def required_length(self) -> int:
        """Through the amount: the text fields after it may be left off."""
        return next(f.end for f in self.fields if f.name == "CUAM")


BNGJOURNAL = Interface(
    "BNGJOURNAL",
    "BNG journals (GL vouchers)",
    (
        InterfaceField("ACDT", 1, 8, "Accounting date YYYYMMDD"),
        InterfaceField("AIT1", 9, 16, "Account"),
        InterfaceField("AIT2", 17, 24, "Cost centre"),
        InterfaceField("CUCD", 25, 27, "Currency"),
        InterfaceField("CUAM", 28, 44, "Amount, signed, decimal point, right-aligned"),
        InterfaceField("VTXT", 45, 84, "Voucher text"),
        InterfaceField("VDSC", 85, 114, "Voucher description"),
    ),
)
INTERFACES: dict[str, Interface] = {BNGJOURNAL.name: BNGJOURNAL}


@dataclass(frozen=True)
class JournalLine:
    line: int
    acdt: date
    ait1: str
    ait2: str
    cucd: str
    cuam: Decimal
    vtxt: str
    vdsc: str


@dataclass(frozen=True)
class CheckedLine:
    """One PARM checked: the line when it is valid, else its problems; the amount whenever readable
    (the balance check counts every readable amount, valid line or not)."""

    journal_line: JournalLine | None
    problems: list[str]
    cucd: str = ""
    cuam: Decimal | None = None


def parse_line(interface: Interface, line: int, parm: str, open_from: date) -> CheckedLine:
    """One PARM checked against the layout and the set-up."""
    if len(parm) < interface.required_length:
        return CheckedLine(
            None, [f"line {line}: parameter has {len(parm)} positions, {interface.required_length} needed"]
        )
    values = {f.name: f.cut(parm) for f in interface.fields}
    problems = []
    acdt = None
    try:
        text = values["ACDT"]
        if len(text) != 8 or not text.isdigit():
            raise ValueError(text)
        acdt = date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        problems.append(f"line {line}: accounting date {values['ACDT']!r} is invalid")
    if acdt is not None and acdt < open_from:
        problems.append(f"line {line}: accounting date {acdt:%Y%m%d} is in a closed period")
    if not values["AIT1"]:
        problems.append(f"line {line}: account must be entered")
    elif values["AIT1"] not in ACCOUNTS:
        problems.append(f"line {line}: account {values['AIT1']} does not exist")
    if values["AIT2"] and values["AIT2"] not in COST_CENTRES:
        problems.append(f"line {line}: cost centre {values['AIT2']} does not exist")
    if not values["CUCD"]:
        problems.append(f"line {line}: currency must be entered")
    cuam: Decimal | None = None
    with contextlib.suppress(InvalidOperation):
        cuam = Decimal(values["CUAM"])
    if cuam is None or not cuam.is_finite():
        cuam = None
        problems.append(f"line {line}: amount {values['CUAM']!r} is not numeric")
    if problems or acdt is None or cuam is None:
        return CheckedLine(None, problems, values["CUCD"], cuam)
    journal_line = JournalLine(
        line, acdt, values["AIT1"], values["AIT2"], values["CUCD"], cuam, values["VTXT"], values["VDSC"]
    )
    return CheckedLine(journal_line, [], journal_line.cucd, journal_line.cuam)
