"""The table that maps Stripe API paths to handlers; a new resource only adds rows to it."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from . import params as p
from .state import Store, StripeObject

# The ids named in the path, outermost first: ("tr_1",) or ("tr_1", "trr_2") for a reversal.
PathIds = tuple[str, ...]
Handler = Callable[[Store, p.Params, PathIds], StripeObject]

_PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # e.g. "/v1/transfers/{id}/reversals/{reversal}"; each {name} is one path id
    params: type  # the SDK's generated parameter type for this call, from stripe.params
    handler: Handler
    pattern: re.Pattern[str] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        literal = [re.escape(part) for part in _PLACEHOLDER.split(self.path)]
        object.__setattr__(self, "pattern", re.compile("^" + "([^/]+)".join(literal) + "$"))

    def match(self, method: str, path: str) -> PathIds | None:
        if method != self.method:
            return None
        found = self.pattern.match(path)
        return None if found is None else found.groups()


def retrieval(kind: str, param: str = "id") -> Handler:
    """The handler of ``GET /v1/<kind>s/{id}``: the object, or Stripe's 404."""

    def retrieve(store: Store, _: p.Params, ids: PathIds) -> StripeObject:
        return store.get_or_404(kind, ids[0], param)

    return retrieve


def listing(kind: str, url: str, *filters: str) -> Handler:
    """The handler of ``GET <url>``: one page of a kind, filtered by the parameters named in
    ``filters`` when they are given (each read from an index)."""

    def list_kind(store: Store, params: p.Params, _: PathIds) -> StripeObject:
        wanted = {key: p.string(params, key) for key in filters}
        return store.list_page(kind, params, url, wanted)

    return list_kind


def resolve(endpoints: list[Endpoint], method: str, path: str) -> tuple[Endpoint, PathIds]:
    for endpoint in endpoints:
        ids = endpoint.match(method, path)
        if ids is not None:
            return endpoint, ids
    raise LookupError(path)
