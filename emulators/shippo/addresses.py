"""What Shippo (and the carrier behind it) checks in an address before it prints a label.

Shippo quotes rates for any address with a country, but a purchase needs a name, street1, city,
zip and country ("required for purchase" in its Address), street lines of at most 35
characters, and a city the carrier can find: a city that is only a postal code (or repeats the
zip) is refused at purchase, as a carrier's address check refuses it. A label refused for its
address is an ERROR transaction with the reasons in its messages, as at Shippo.
"""

from __future__ import annotations

from typing import Any

# Shippo's "is_complete": what a label needs that a quote does not.
REQUIRED_FOR_LABEL = ("name", "street1", "city", "zip", "country")
STREET_LINE_MAX = 35


def is_complete(address: dict[str, Any]) -> bool:
    return all(address.get(key) for key in REQUIRED_FOR_LABEL)


def label_problems(side: str, address: dict[str, Any]) -> list[dict[str, str]]:
    """Why no label can be printed for this address (empty: it can), as Shippo's messages."""
    if not is_complete(address):
        return [
            _message(
                "address_incomplete",
                f"{side} is incomplete: a label needs a name, street1, city, zip and country.",
            )
        ]
    problems = [
        _message("address_invalid", f"{side}.{key} is longer than {STREET_LINE_MAX} characters.")
        for key in ("street1", "street2", "street3")
        if len(str(address.get(key) or "")) > STREET_LINE_MAX
    ]
    city, zip_code = str(address["city"]).strip(), str(address["zip"]).strip()
    if not any(char.isalpha() for char in city) or _squeezed(city) == _squeezed(zip_code):
        problems.append(
            _message(
                "address_invalid",
                f"{side}.city {city!r} is not a city the carrier knows (is it the postal code?).",
            )
        )
    return problems


def _squeezed(text: str) -> str:
    return "".join(text.split()).casefold()


def _message(code: str, text: str) -> dict[str, str]:
    return {"code": code, "text": text}
