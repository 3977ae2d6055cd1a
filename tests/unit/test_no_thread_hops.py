"""No request waits for a thread to read app state: every dependency of every route is a
coroutine function (FastAPI runs a plain `def` dependency in its thread pool, a hop that cost
about 8% of the API's event-loop time in a flash sale's refusals)."""

from __future__ import annotations

import inspect

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from api.app import create_app
from models.settings import Settings


def _sync_dependencies(dependant: Dependant, route: str) -> list[str]:
    found = []
    for sub in dependant.dependencies:
        call = sub.call
        # A class instance (HTTPBearer) is called through its __call__.
        target = call if inspect.isfunction(call) else getattr(call, "__call__", None)  # noqa: B004
        coroutine = inspect.iscoroutinefunction(target) or inspect.isasyncgenfunction(target)
        if call is not None and not coroutine:
            found.append(f"{route}: {getattr(call, '__qualname__', call)}")
        found += _sync_dependencies(sub, route)
    return found


def test_every_dependency_of_every_route_runs_on_the_event_loop() -> None:
    app = create_app(Settings())
    routes = [
        context.original_route
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute)
    ]
    assert len(routes) > 20
    sync = [
        found
        for route in routes
        for found in _sync_dependencies(route.dependant, f"{sorted(route.methods)} {route.path}")
    ]
    assert sync == []
