"""The table that maps Stripe API paths to handlers; a new resource only adds rows to it."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from .params import Params
from .state import Store, StripeObject

Handler = Callable[[Store, Params, str | None], StripeObject]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # e.g. "/v1/payment_intents/{id}/confirm"; {id} is the one path argument
    params: type  # the SDK's generated parameter type for this call, from stripe.params
    handler: Handler
    pattern: re.Pattern[str] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        regex = "^" + re.escape(self.path).replace(re.escape("{id}"), "([^/]+)") + "$"
        object.__setattr__(self, "pattern", re.compile(regex))

    def match(self, method: str, path: str) -> tuple[bool, str | None]:
        if method != self.method:
            return False, None
        found = self.pattern.match(path)
        if found is None:
            return False, None
        return True, found.group(1) if found.groups() else None


def resolve(endpoints: list[Endpoint], method: str, path: str) -> tuple[Endpoint, str | None]:
    for endpoint in endpoints:
        matched, object_id = endpoint.match(method, path)
        if matched:
            return endpoint, object_id
    raise LookupError(path)
