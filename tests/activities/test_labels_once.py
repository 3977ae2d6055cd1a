"""A label the platform buys for a vendor order is bought once: the shipping activity run again,
after Shippo's answer was lost or after it finished, finds the label bought under the vendor
order's reference, and the vendor bears its cost once. Against the real database and the
Shippo emulator, which takes no idempotency key."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.orders import OrderStoreActivities
from activities.shipping import ShippingActivities, label_reference
from models.messages.shipping import LabelRequest, ParcelMsg
from providers.shippo_adapter import ShippoGateway
from stores.ledger import vendor_order_of
from tests.shippo_helpers import (
    control,
    impatient_gateway,
    lose_label_answers,
    transactions_with,
)
from tests.store_helpers import confirm_request, create_request, seed

ADA = {
    "name": "Ada Buyer",
    "line1": "5 Market St",
    "city": "San Francisco",
    "postal_code": "94105",
    "country": "US",
}
SMALL_BOX = ParcelMsg(length_cm=20, width_cm=15, height_cm=10, weight_grams=500)


async def label_to_buy(
    order_store: OrderStoreActivities, sessions: async_sessionmaker[AsyncSession]
) -> LabelRequest:
    """A confirmed order of 10.00 (9.00 to its vendor) to Ada, its one vendor order shipping
    from the vendor's warehouse: the label the vendor asks the platform to buy for it."""
    sku, vendor = await seed(sessions, {"wh": 5})
    request = create_request(sku=sku, vendor_id=vendor, shipping_address=ADA)
    confirmation = confirm_request(request, f"wh_{sku.removeprefix('SKU-')}")
    activities = ActivityEnvironment()
    await activities.run(order_store.create, request)
    await activities.run(order_store.confirm, confirmation)
    vendor_order_id = confirmation.vendor_orders[0].vendor_order_id
    return LabelRequest(
        order_id=request.order.order_id, vendor_order_id=vendor_order_id, parcel=SMALL_BOX
    )


@pytest.mark.usefixtures("shippo_faults_cleared")
async def test_a_label_whose_answer_was_lost_is_bought_once_when_the_activity_runs_again(
    order_store: OrderStoreActivities,
    sessions: async_sessionmaker[AsyncSession],
    shippo_emulator: str,
    shippo_gateway: ShippoGateway,
) -> None:
    # Given a vendor order whose label Shippo sold, its answer lost on the way back
    request = await label_to_buy(order_store, sessions)
    lose_label_answers(shippo_emulator)
    with impatient_gateway(shippo_emulator) as impatient, pytest.raises(ApplicationError) as lost:
        await ShippingActivities(sessions, impatient).buy_label(request)
    control(shippo_emulator, "DELETE", "/_emulator/faults")

    # When Temporal retries the activity, and it runs once more after that
    shipping = ShippingActivities(sessions, shippo_gateway)
    label = await shipping.buy_label(request)
    again = await shipping.buy_label(request)

    # Then Shippo sold one label, both answers are that label, and the vendor order keeps it,
    # its cost taken once from the vendor's payout
    assert (lost.value.type, lost.value.non_retryable) == ("provider_unavailable", False)
    [sold] = transactions_with(shippo_emulator, label_reference(request.vendor_order_id))
    assert (label.transaction_id, label.tracking_number) == (
        sold["object_id"],
        sold["tracking_number"],
    )
    assert again == label
    async with sessions() as session:
        kept = await vendor_order_of(session, request.vendor_order_id)
    assert (kept.label_transaction_id, kept.label_cost_cents) == (
        label.transaction_id,
        label.cost_cents,
    )
    assert 0 < label.cost_cents and kept.payout_cents == 900 - label.cost_cents
