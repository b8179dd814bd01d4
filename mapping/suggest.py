"""Suggest M3 target fields for source fields, to start a new map.

Deliberately simple: string similarity on names and descriptions plus a short synonym list. It
proposes; a person decides. Scores are 0..1 and only comparable within one source field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from difflib import SequenceMatcher

from pydantic import BaseModel, ConfigDict

# Source words whose M3 field name shares nothing with them.
SYNONYMS: dict[str, str] = {
    "email": "MAIL",
    "mail": "MAIL",
    "phone": "PHNO",
    "telephone": "PHNO",
    "postalcode": "PONO",
    "zip": "PONO",
    "zipcode": "PONO",
    "city": "TOWN",
    "country": "CSCD",
    "currency": "CUCD",
    "sku": "ITNO",
    "customername": "CUNM",
    "companyname": "CUNM",
    "status": "STAT",
    "quantity": "ORQT",
    "unitprice": "SAPR",
    "orderdate": "ORDT",
    "unitofmeasure": "UNMS",
    "productcategory": "ITCL",
}

# Words that mean the same in field names and M3 descriptions ("CustomerID" ~ "Customer number").
WORD_SYNONYMS: dict[str, str] = {"id": "number", "no": "number", "nr": "number", "zip": "postal"}

SYNONYM_SCORE = 1.0
# Four-letter M3 codes resemble many words by chance, so a name match counts for less.
NAME_WEIGHT = 0.7
DEFAULT_MIN_SCORE = 0.4


class Suggestion(BaseModel):
    model_config = ConfigDict(frozen=True)

    target: str
    score: float
    reason: str


def suggest_mappings(
    source_fields: list[str],
    target_fields: Mapping[str, str],
    *,
    limit: int = 3,
    min_score: float = DEFAULT_MIN_SCORE,
) -> dict[str, list[Suggestion]]:
    """For each source field (a name or dot path), up to ``limit`` targets, best first.

    ``target_fields`` maps an M3 field name to its description, e.g. {"MAIL": "Email address"}.
    """
    suggestions: dict[str, list[Suggestion]] = {}
    for source in source_fields:
        scored = [_score(source, target, description) for target, description in target_fields.items()]
        good = [suggestion for suggestion in scored if suggestion.score >= min_score]
        good.sort(key=lambda suggestion: (-suggestion.score, suggestion.target))
        suggestions[source] = good[:limit]
    return suggestions


def _score(source: str, target: str, description: str) -> Suggestion:
    # "BillingAddress.PostalCode" is about the postal code; the prefix only says whose.
    leaf = source.rsplit(".", 1)[-1]
    key = _squash(leaf)
    if SYNONYMS.get(key) == target.upper():
        return Suggestion(target=target, score=SYNONYM_SCORE, reason=f"{leaf} is a known synonym of {target}")
    name_score = NAME_WEIGHT * SequenceMatcher(None, key, _squash(target)).ratio()
    description_score = _description_score(leaf, description)
    if description_score >= name_score:
        return Suggestion(
            target=target,
            score=round(description_score, 3),
            reason=f"{leaf} resembles the description {description!r}",
        )
    return Suggestion(target=target, score=round(name_score, 3), reason=f"{leaf} resembles the name {target}")


def _description_score(leaf: str, description: str) -> float:
    """The better of whole-text similarity and the share of the source's words in the description."""
    words = _words(leaf)
    description_words = set(_words(description))
    if not words or not description_words:
        return 0.0
    whole = SequenceMatcher(None, " ".join(words), " ".join(_words(description))).ratio()
    overlap = sum(word in description_words for word in words) / len(words)
    return max(whole, overlap)


def _words(text: str) -> list[str]:
    # Split "PostalCode" and "postal code" alike.
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", text)
    words = (word.lower() for word in re.findall(r"[A-Za-z0-9]+", spaced))
    return [WORD_SYNONYMS.get(word, word) for word in words]


def _squash(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())
