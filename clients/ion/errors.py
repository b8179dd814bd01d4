"""Exceptions for inbound ION documents."""

from __future__ import annotations


class IonError(ValueError):
    """Base class: an inbound ION message could not be used."""


class BodParseError(IonError):
    """The BOD is malformed, unsafe (DOCTYPE/entities) or lacks a required element."""


class UnsupportedBodError(IonError):
    """A well-formed BOD whose verb or noun this product does not handle (acknowledge and drop)."""

    def __init__(self, message: str, *, verb: str | None = None, noun: str | None = None) -> None:
        self.verb = verb
        self.noun = noun
        super().__init__(message)


class ImsError(IonError):
    """An IMS multipart message with missing parts, bad parameters or an undecodable payload."""
