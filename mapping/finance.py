"""Finance settings declared as data next to the maps: the GL calendar and refund accounts
(``maps/gl_settings.yaml``) and the three-way-match tolerances (``maps/match_tolerances.yaml``)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path

from pydantic import ConfigDict, Field

from mapping.loader import load_declared, parse_file
from mapping.spec import SpecModel

GL_SETTINGS_FILE = "gl_settings.yaml"
MATCH_TOLERANCES_FILE = "match_tolerances.yaml"


class RefundPosting(SpecModel):
    """The accounts a refund is booked to: BNG account codes, mapped by the gl_accounts lookup."""

    model_config = ConfigDict(coerce_numbers_to_str=True)

    debit_account: str = Field(min_length=1)
    credit_account: str = Field(min_length=1)
    cost_center: str | None = None


class GlSettings(SpecModel):
    open_from: date
    """The first open accounting date; anything before it is in a closed period."""
    refund: RefundPosting

    def is_open(self, accounting_date: date) -> bool:
        return accounting_date >= self.open_from


class PercentAndAmount(SpecModel):
    percent: Decimal = Field(ge=0)
    amount: Decimal = Field(ge=0)


class PercentAndUnits(SpecModel):
    percent: Decimal = Field(ge=0)
    units: Decimal = Field(ge=0)


class ToleranceSet(SpecModel):
    price: PercentAndAmount
    """APS900 sorting order 1: price variance."""
    quantity: PercentAndUnits
    """APS900 sorting order 2: quantity variance."""
    invoice_amount: PercentAndAmount
    """APS900 sorting order 3: invoice amount variance."""


class ToleranceOverride(SpecModel):
    price: PercentAndAmount | None = None
    quantity: PercentAndUnits | None = None
    invoice_amount: PercentAndAmount | None = None


class MatchTolerances(SpecModel):
    model_config = ConfigDict(coerce_numbers_to_str=True)

    default: ToleranceSet
    suppliers: dict[str, ToleranceOverride] = Field(default_factory=dict)
    accept_limit: PercentAndAmount
    price_variance_account: str = Field(min_length=1, max_length=8)

    def for_supplier(self, suno: str | None) -> ToleranceSet:
        """The default rules with the supplier's own rules in their place."""
        override = self.suppliers.get(suno or "")
        if override is None:
            return self.default
        return ToleranceSet(
            price=override.price or self.default.price,
            quantity=override.quantity or self.default.quantity,
            invoice_amount=override.invoice_amount or self.default.invoice_amount,
        )


@cache
def load_gl_settings() -> GlSettings:
    return load_declared(GL_SETTINGS_FILE, GlSettings)


def load_gl_settings_file(path: str | Path) -> GlSettings:
    return parse_file(Path(path), GlSettings)


@cache
def load_match_tolerances() -> MatchTolerances:
    return load_declared(MATCH_TOLERANCES_FILE, MatchTolerances)


def load_match_tolerances_file(path: str | Path) -> MatchTolerances:
    return parse_file(Path(path), MatchTolerances)
