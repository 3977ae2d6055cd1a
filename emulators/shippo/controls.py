"""The emulator's own controls under /_emulator: plain JSON, no token, never subject to faults.

- ``POST /_emulator/tracks/{carrier}/{tracking_number}`` ``{"status": "DELIVERED"}`` moves a
  parcel (registering it when unknown) and sends its ``track_updated`` webhook;
- ``POST|GET|DELETE /_emulator/faults`` injects failures (see faults.py);
- ``GET /_emulator/webhooks`` lists deliveries and their attempts (filters: carrier,
  tracking_number, status, tracking_status); ``POST /_emulator/webhooks/config`` changes the
  URL or retry schedule; ``POST /_emulator/webhooks/resend`` sends a delivery again;
- ``GET /_emulator/transactions?metadata=`` counts the labels bought, duplicates included;
- ``GET /_emulator/counts`` (objects by kind), ``GET /_emulator/state``,
  ``POST /_emulator/reset``; label files under /_emulator/labels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from emulators.controls import COMMON_CONTROLS, Control, ControlError, control_routes, json_body

from . import tracks

if TYPE_CHECKING:
    from .app import Emulator


async def move_track(emulator: Emulator, request: Request) -> Any:
    params = request.path_params
    return tracks.control_move(
        emulator, params["carrier"], params["tracking_number"], await json_body(request)
    )


async def show_webhooks(emulator: Emulator, request: Request) -> Any:
    deliveries = emulator.webhooks.deliveries(dict(request.query_params))
    return {**emulator.webhooks.settings.describe(), "deliveries": deliveries}


async def resend(emulator: Emulator, request: Request) -> Any:
    """Send a delivery again: ``{"delivery": id}``, or the latest about
    ``{"carrier", "tracking_number"}``. The payload is the same, tracking status id included."""
    body = await json_body(request)
    delivery_id = body.get("delivery")
    if delivery_id is None:
        query = {"carrier": str(body.get("carrier", "")).lower()}
        query["tracking_number"] = str(body.get("tracking_number", ""))
        found = emulator.webhooks.deliveries(query)
        if not found:
            raise ControlError(404, "no webhook was sent about that parcel")
        delivery_id = found[-1]["id"]
    return await emulator.webhooks.resend(str(delivery_id))


async def list_transactions(emulator: Emulator, request: Request) -> Any:
    query = request.query_params
    field = {"metadata": "metadata", "rate": "rate", "status": "status"}
    where = {name: query[key] for key, name in field.items() if key in query}
    found = list(emulator.store.newest("transaction", where))
    return {"count": len(found), "results": found}


async def counts(emulator: Emulator, _: Request) -> Any:
    store = emulator.store
    return {
        **{kind: len(objects) for kind, objects in store.objects.items()},
        "deliveries": len(store.deliveries),
        "jobs": len(store.jobs),
    }


async def dump(emulator: Emulator, _: Request) -> Any:
    return {**emulator.store.dump(), "faults": emulator.faults.describe()}


# The smallest PDF a viewer opens: one blank page. Labels are not drawn.
_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 288 432]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


async def label_file(request: Request) -> Response:
    emulator: Emulator = request.app.state.emulator
    transaction = emulator.store.get("transaction", request.path_params["transaction_id"])
    if transaction is None or transaction["status"] != "SUCCESS":
        return JSONResponse({"error": "no such label"}, status_code=404)
    return Response(_PDF, media_type="application/pdf")


def routes(emulator: Emulator) -> list[Route]:
    table: list[tuple[str, str, Control]] = [
        ("POST", "/_emulator/tracks/{carrier}/{tracking_number}", move_track),
        *COMMON_CONTROLS,
        ("GET", "/_emulator/webhooks", show_webhooks),
        ("POST", "/_emulator/webhooks/resend", resend),
        ("GET", "/_emulator/transactions", list_transactions),
        ("GET", "/_emulator/counts", counts),
        ("GET", "/_emulator/state", dump),
    ]
    return [
        *control_routes(emulator, table, emulator.ensure_running),
        Route("/_emulator/labels/{transaction_id}.pdf", label_file, methods=["GET"]),
    ]
