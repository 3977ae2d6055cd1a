"""Every name Temporal knows our work by is in temporal/names.py, and every name there is used:
the workflows, the API, the worker and the fakes agree because they read one module."""

from __future__ import annotations

from typing import Any

from temporalio import workflow

from activities.inventory import InventoryActivities
from activities.notifications import NotificationActivities
from activities.orders import OrderStoreActivities
from activities.payments import PaymentActivities
from activities.refunds import RefundActivities
from activities.returns import ReturnActivities
from activities.shipping import ShippingActivities
from activities.stock_feeds import StockFeedActivities
from activities.supplier import SupplierActivities
from temporal.names import Activity, Query, Signal, Update, Workflow
from temporal.worker import activity_methods
from workflows.registry import WORKFLOWS

ACTIVITY_CLASSES = (
    InventoryActivities,
    NotificationActivities,
    OrderStoreActivities,
    PaymentActivities,
    RefundActivities,
    ReturnActivities,
    ShippingActivities,
    SupplierActivities,
    StockFeedActivities,
)


def constants(names: type) -> list[str]:
    return [value for key, value in vars(names).items() if key.isupper()]


def registered_activity_names() -> list[str]:
    # Instances without their dependencies: only the methods' decorations are read.
    instances = [cls.__new__(cls) for cls in ACTIVITY_CLASSES]
    return [method.__temporal_activity_definition.name for method in activity_methods(*instances)]


def definitions() -> list[Any]:
    return [workflow._Definition.must_from_class(cls) for cls in WORKFLOWS]


def test_the_worker_registers_every_activity_of_every_class_under_its_contract_name() -> None:
    registered = registered_activity_names()
    assert len(registered) == len(set(registered)), "an activity name is registered twice"
    assert sorted(registered) == sorted(constants(Activity))


def test_every_workflow_is_registered_under_its_contract_name() -> None:
    assert sorted(d.name for d in definitions()) == sorted(constants(Workflow))


def test_every_update_signal_and_query_is_declared_and_every_declared_one_handled() -> None:
    handled = {
        "update": {name for d in definitions() for name in d.updates},
        "signal": {name for d in definitions() for name in d.signals},
        "query": {name for d in definitions() for name in d.queries},
    }
    assert handled["update"] == set(constants(Update))
    assert handled["signal"] == set(constants(Signal))
    assert handled["query"] == set(constants(Query))


def test_no_name_is_given_twice_within_a_kind() -> None:
    for names in (Workflow, Update, Signal, Query, Activity):
        values = constants(names)
        assert len(values) == len(set(values)), names.__name__
