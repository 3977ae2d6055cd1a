"""Every JSON body a route reads refuses fields the contract does not know (models/request.py),
nested models included: the rule is held by walking the app's own routes, so a route added
tomorrow with a lenient model fails here."""

from __future__ import annotations

import types
from collections.abc import Iterator
from typing import Any, Union, get_args, get_origin

from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel

from api.app import create_app
from models.request import RequestModel
from models.settings import Settings


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        for field in annotation.model_fields.values():
            yield from _models_in(field.annotation)
        return
    if get_origin(annotation) in (Union, types.UnionType) or get_args(annotation):
        for argument in get_args(annotation):
            yield from _models_in(argument)


def _body_models() -> dict[str, set[type[BaseModel]]]:
    app = create_app(Settings())
    found: dict[str, set[type[BaseModel]]] = {}
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute):
            continue
        for param in route.dependant.body_params:
            for model in _models_in(param.field_info.annotation):
                found.setdefault(model.__qualname__, set()).add(model)
    return found


def test_every_request_body_model_refuses_unknown_fields() -> None:
    models = {model for group in _body_models().values() for model in group}
    lenient = sorted(m.__qualname__ for m in models if m.model_config.get("extra") != "forbid")
    assert lenient == []
    assert all(issubclass(model, RequestModel) for model in models)


def test_the_walk_finds_the_bodies_of_checkout_shipping_and_key_rotation() -> None:
    # The walk itself can fail: it must reach top-level and nested models.
    names = set(_body_models())
    assert {"OrderCreate", "ShippingAddress", "OrderLineIn", "ShipBody", "ParcelIn"} <= names
    assert {"ApiKeyCreate", "ProductCreate", "PriceTierIn", "RefundBody"} <= names
