"""The hottest routes (the customer's search, balance and usage; ``/healthz``), reached without the router.

FastAPI finds a route by asking every route of every included router in turn whether it matches,
and wraps the call in five layers of middleware and two exit stacks. For a small search that is
about a fifth of the request's CPU. A route whose path has no parameters and whose only inputs are
a JSON body and the caller (see ``deps.CustomerRoute``), or the request alone (``/healthz``), needs
none of it: the edge middleware
(``middleware.RequestGuard``) looks it up here by method and exact path and calls the route's own
handler, the same function the router would have reached. Its errors are rendered by the
application's handlers, as every other error is. Anything not in the table goes through FastAPI.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterator
from typing import Any, get_type_hints

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class DirectRoutes:
    """``(method, path) -> (route, handler)`` for the routes that can be called directly; built
    from the application's routes on first use (routes are all added by then)."""

    def __init__(self, routes: Callable[[], list]) -> None:
        self._routes = routes
        self._table: dict[tuple[str, str], tuple[APIRoute, Handler]] | None = None

    def find(self, method: str, path: str) -> tuple[APIRoute, Handler] | None:
        if self._table is None:
            self._table = _table(self._routes())
        return self._table.get((method, path))

    @staticmethod
    async def serve(found: tuple[APIRoute, Handler], scope: Scope, receive: Receive, send: Send) -> None:
        route, handler = found
        scope["route"] = route  # as the router sets it: metrics and the access log name the route
        response = await handler(Request(scope, receive))
        await response(scope, receive, send)


def _table(routes: list) -> dict[tuple[str, str], tuple[APIRoute, Handler]]:
    table: dict[tuple[str, str], tuple[APIRoute, Handler]] = {}
    for route in _leaves(routes):
        handler = _handler(route)
        if handler is None:
            continue
        for method in route.methods or ():
            table.setdefault((method, route.path), (route, handler))
    return table


def _handler(route: Any) -> Handler | None:
    """The function to call for ``route`` with a request, if it can be called directly: a fixed
    path, an endpoint that returns a response itself, and either a route class that says how
    (``direct_handler``, see ``deps.CustomerRoute``) or the request as the only parameter."""
    if not isinstance(route, APIRoute) or route.param_convertors or not _returns_response(route.endpoint):
        return None
    made = getattr(route, "direct_handler", None)
    if made is not None:
        return made()
    d = route.dependant
    inputs = (d.path_params, d.query_params, d.header_params, d.cookie_params, d.body_params, d.dependencies)
    if d.request_param_name is None or any(inputs) or any(getattr(d, name, None) for name in OTHER_PARAMETERS):
        return None
    name, endpoint = d.request_param_name, route.endpoint
    return lambda request: endpoint(**{name: request})


#: Parameters FastAPI fills from the request other than the request itself: such routes go through it.
OTHER_PARAMETERS = ("websocket_param_name", "http_connection_param_name", "response_param_name",
                    "background_tasks_param_name", "security_scopes_param_name")


def _returns_response(endpoint: Callable[..., Any]) -> bool:
    """Whether the endpoint is declared to return a ``Response`` (FastAPI would serialise anything else)."""
    try:
        returned = get_type_hints(endpoint).get("return")
    except (NameError, TypeError):
        return False
    return isinstance(returned, type) and issubclass(returned, Response)


def _leaves(routes: list) -> Iterator[Any]:
    """Every route, those of included routers too (FastAPI wraps an included router in one object)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _leaves(inner.routes)
        else:
            yield route
