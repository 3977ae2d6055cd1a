"""Each top-level package imports only what DESIGN.md's "Architecture" table lets it import.

The modules are read with `ast`, not imported: every `import x` and `from x import y` counts,
wherever it stands (inside a function, under `TYPE_CHECKING`, in a workflow's
`with workflow.unsafe.imports_passed_through():` block). Relative imports stay inside their
own package, which a package may always import.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PACKAGES = (
    "domain",
    "models",
    "stores",
    "workflows",
    "activities",
    "providers",
    "jobs",
    "api",
    "temporal",
    "devstack",
    "emulators",
)
# The entrypoints are first-party too: no package may import them (their row is "the rest").
FIRST_PARTY = frozenset((*PACKAGES, "cli", "worker"))

# DESIGN.md, "Architecture": the "may import" column, one row per folder (amended 2026-12-01).
# A package may always import itself; where a row allows only part of a package, ONLY_MODULES
# narrows it, and API_MODULES_USING_PROVIDERS narrows api's "`providers` only to verify
# webhooks".
MAY_IMPORT: dict[str, frozenset[str]] = {
    "domain": frozenset(),  # "nothing of ours but `domain`"
    "models": frozenset({"domain"}),
    "stores": frozenset({"domain", "models"}),
    # "`models` messages, `temporal` names": narrowed in ONLY_MODULES.
    "workflows": frozenset({"domain", "models", "temporal"}),
    # temporal: see the amendment in ONLY_MODULES.
    "activities": frozenset({"domain", "models", "stores", "providers", "temporal"}),
    "providers": frozenset({"domain", "models"}),
    "jobs": frozenset({"domain", "models", "stores", "providers"}),
    "api": frozenset({"domain", "models", "stores", "temporal", "providers"}),
    "temporal": frozenset({"domain", "models"}),
    "devstack": FIRST_PARTY - {"devstack"},  # "anything"
    "emulators": frozenset(),  # "their own code only"
}

# (importer, imported package) -> the only modules of it allowed (each with its submodules).
ONLY_MODULES: dict[tuple[str, str], tuple[str, ...]] = {
    # "`models` messages": what workflows and activities exchange.
    ("workflows", "models"): ("models.messages",),
    # "`temporal` names": the contract module and the search attribute keys workflows
    # upsert, never temporal.worker or temporal.client.
    ("workflows", "temporal"): ("temporal.names", "temporal.search_attributes"),
    # Proposed amendment to DESIGN.md (the project owner's decision; the table does not list
    # it yet): activities may import temporal.names, the one contract module of Temporal
    # names, and nothing else of temporal/.
    ("activities", "temporal"): ("temporal.names",),
}

# "`providers` only to verify webhooks": the api modules that may import providers at all.
API_MODULES_USING_PROVIDERS = {
    # The app factory: its lifespan builds the Stripe client (StripeGateway.connect).
    "api/app.py",
    # StripeDep, which hands that client to the routes (the Stripe webhook verifies with it).
    "api/deps.py",
    # Verifies Stripe's signature (stripe.parse_webhook; ProviderRejectedError is a refusal).
    "api/routers/webhooks/stripe.py",
    # Reads Shippo's tracking webhook (ShippoGateway.parse_webhook, TrackingUpdate).
    "api/routers/webhooks/shippo.py",
}

# Imports that break the table today, kept here until the code moves: (module, what it imports).
# Each must still exist (test_each_known_violation_still_exists), so the list only shrinks.
KNOWN_VIOLATIONS = {
    # Opening a vendor's Stripe account from the API (through StripeDep) is not verifying a
    # webhook; it catches the adapter's ProviderError.
    ("api/routers/vendors.py", "providers.errors"),
}


@dataclass(frozen=True)
class Import:
    path: str  # the importing module, relative to the repository: "api/app.py"
    line: int
    module: str  # what it imports, as a dotted module: "providers.stripe_adapter"

    @property
    def package(self) -> str:
        return self.module.split(".")[0]

    def __str__(self) -> str:
        return f"{self.path}:{self.line} imports {self.module}"


def _is_module(dotted: str) -> bool:
    base = ROOT.joinpath(*dotted.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def first_party_imports(source: str, path: str) -> Iterator[Import]:
    """The first-party modules one module's source imports, anywhere in it."""
    for node in ast.walk(ast.parse(source, filename=path)):
        if isinstance(node, ast.Import):
            found = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # `from temporal import names` imports the module temporal.names.
            found = [
                f"{node.module}.{alias.name}"
                if _is_module(f"{node.module}.{alias.name}")
                else node.module
                for alias in node.names
            ]
        else:
            continue
        for module in found:
            if module.split(".")[0] in FIRST_PARTY:
                yield Import(path, node.lineno, module)


def all_imports() -> list[Import]:
    found = []
    for package in PACKAGES:
        for file in sorted((ROOT / package).rglob("*.py")):
            path = file.relative_to(ROOT).as_posix()
            found += first_party_imports(file.read_text(encoding="utf-8"), path)
    return found


def allowed(found: Import) -> bool:
    importer = found.path.split("/")[0]
    if found.package == importer:
        return True
    if found.package not in MAY_IMPORT[importer]:
        return False
    if (importer, found.package) == ("api", "providers"):
        return found.path in API_MODULES_USING_PROVIDERS
    only = ONLY_MODULES.get((importer, found.package))
    return only is None or any(
        found.module == module or found.module.startswith(f"{module}.") for module in only
    )


def violations() -> list[Import]:
    return [found for found in all_imports() if not allowed(found)]


def test_the_table_has_a_row_for_every_package_and_every_package_is_there() -> None:
    assert set(MAY_IMPORT) == set(PACKAGES)
    for package in PACKAGES:
        # emulators/ is a namespace package (no __init__.py): look for modules, not a marker.
        assert any((ROOT / package).rglob("*.py")), package


def test_imports_are_found_wherever_they_stand() -> None:
    source = """
import json
import domain.money
from temporalio import workflow
from . import sibling
from .. import cousin

with workflow.unsafe.imports_passed_through():
    from models.messages.checkout import OrderInput
    from temporal import names

def later():
    from providers.stripe_adapter import StripeGateway
    import worker

class Thing:
    async def run(self):
        from stores import ledger as kept
"""
    found = [(i.line, i.module) for i in first_party_imports(source, "workflows/example.py")]
    assert found == [
        (3, "domain.money"),
        (9, "models.messages.checkout"),
        (10, "temporal.names"),
        (13, "providers.stripe_adapter"),
        (14, "worker"),
        (18, "stores.ledger"),
    ]


@pytest.mark.parametrize(
    ("path", "module", "expected"),
    [
        ("workflows/order.py", "temporal.worker", False),
        ("workflows/order.py", "models.settings", False),
        ("activities/payments.py", "temporal.client", False),
        ("domain/money.py", "models", False),
        ("emulators/stripe/app.py", "providers.errors", False),
        ("api/routers/orders.py", "providers.errors", False),
        ("stores/ledger.py", "cli", False),
        ("workflows/order.py", "temporal.names", True),
        ("activities/payments.py", "temporal.names", True),
        ("api/routers/webhooks/stripe.py", "providers.errors", True),
        ("devstack/stack.py", "temporal.search_attributes", True),
        ("emulators/stripe/app.py", "emulators.faults", True),
    ],
)
def test_what_the_table_forbids_is_refused_and_what_it_allows_passes(
    path: str, module: str, expected: bool
) -> None:
    assert allowed(Import(path, 1, module)) is expected


def test_each_package_imports_only_what_its_row_allows() -> None:
    new = [
        str(found) for found in violations() if (found.path, found.module) not in KNOWN_VIOLATIONS
    ]
    assert new == []


def test_each_known_violation_still_exists() -> None:
    # When one is fixed, take it off KNOWN_VIOLATIONS: the list only shrinks.
    today = {(found.path, found.module) for found in violations()}
    assert KNOWN_VIOLATIONS - today == set()


def test_the_api_modules_allowed_providers_still_import_them() -> None:
    # So the list says which modules do it, not which once did.
    importing = {found.path for found in all_imports() if found.package == "providers"}
    assert API_MODULES_USING_PROVIDERS - importing == set()
