"""Properties of money flowing through the ledger: refunds, payouts, reversals and debts.

Random vendors sell through random orders; a random sequence of steps then refunds (named,
unnamed, by returned units, some refused for being too large), pays vendors out (netting any
debt they owe) and, for refunds that come after a payout, reverses the vendor's share, the
reversal sometimes failing and becoming debt. Every step records the movements the system
would record, decided only by domain.refunds, and after every step the books are checked
against a model computed independently here (exact fractions, goods first).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from math import floor

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import ValidationFailed
from domain.ledger import (
    EntryKind,
    Movement,
    VendorOrderMoney,
    VendorOrderTerms,
    order_balance,
    vendor_debt_outstanding,
    vendor_order_money,
)
from domain.payout import plan_payout, plan_reversal
from domain.pricing import PricedLine
from domain.refunds import attribute_unnamed_refund, refund_for_units, split_refund

PROPERTY = settings(max_examples=200, deadline=None)


@dataclass
class VendorOrder:
    id: str
    order_id: str
    vendor_id: str
    lines: list[PricedLine]
    terms: VendorOrderTerms
    movements: list[Movement] = field(default_factory=list)
    paid_out: bool = False
    # The model, kept apart from the ledger: what the buyer got back, and units returned.
    model_refunded: int = 0
    returned_units: dict[str, int] = field(default_factory=dict)

    @property
    def charged(self) -> int:
        return self.terms.subtotal_cents + self.terms.shipping_cents

    def money(self) -> VendorOrderMoney:
        return vendor_order_money(self.terms, self.movements)

    def record(self, kind: EntryKind, amount: int, goods: int = 0) -> None:
        self.movements.append(Movement(kind, amount, self.id, goods))


@dataclass
class Books:
    vendor_orders: dict[str, VendorOrder] = field(default_factory=dict)
    charged: dict[str, int] = field(default_factory=dict)
    # What the vendor's Stripe balance got: transfers less reversals, per vendor.
    vendor_cash: dict[str, int] = field(default_factory=dict)

    def of_order(self, order_id: str) -> list[VendorOrder]:
        return [vo for vo in self.vendor_orders.values() if vo.order_id == order_id]

    def of_vendor(self, vendor_id: str) -> list[VendorOrder]:
        return [vo for vo in self.vendor_orders.values() if vo.vendor_id == vendor_id]

    def debt_of(self, vendor_id: str) -> int:
        return vendor_debt_outstanding(
            [m for vo in self.of_vendor(vendor_id) for m in vo.movements]
        )

    def add_order(self, order_id: str, vendor_orders: list[VendorOrder]) -> None:
        for vo in vendor_orders:
            self.vendor_orders[vo.id] = vo
            self.vendor_cash.setdefault(vo.vendor_id, 0)
        self.charged[order_id] = sum(vo.charged for vo in vendor_orders)


# The system's steps, decided by domain.refunds only.


def refund(books: Books, vo: VendorOrder, amount: int, reversal_succeeds: bool) -> None:
    goods, shipping = split_refund(amount, vo.money(), vo.terms)
    assert goods + shipping == amount and goods >= 0 and shipping >= 0
    vo.record(EntryKind.REFUND, amount, goods)
    vo.model_refunded += amount
    if not vo.paid_out:
        return
    # After the payout: the platform gives back its commission on the refunded goods, and
    # takes the vendor's share back.
    money = vo.money()
    if money.commission_to_record_cents:
        vo.record(EntryKind.COMMISSION, money.commission_to_record_cents)
    plan = plan_reversal(vo.money())
    assert plan.reverse_cents >= 0 and plan.debt_cents >= 0
    if plan.reverse_cents:
        if reversal_succeeds:
            vo.record(EntryKind.TRANSFER_REVERSAL, plan.reverse_cents)
            books.vendor_cash[vo.vendor_id] -= plan.reverse_cents
        else:
            vo.record(EntryKind.VENDOR_DEBT, plan.reverse_cents)
    if plan.debt_cents:
        vo.record(EntryKind.VENDOR_DEBT, plan.debt_cents)


def pay_out(books: Books, vo: VendorOrder) -> None:
    debt_before = books.debt_of(vo.vendor_id)
    money = vo.money()
    plan = plan_payout(money, debt_before)
    assert plan.transfer_cents >= 0 and plan.debt_settled_cents >= 0
    assert plan.transfer_cents + plan.debt_settled_cents == money.payout_cents
    assert plan.debt_settled_cents == min(debt_before, money.payout_cents)
    if plan.debt_settled_cents:
        vo.record(EntryKind.DEBT_SETTLED, plan.debt_settled_cents)
    vo.record(EntryKind.TRANSFER, plan.transfer_cents)
    books.vendor_cash[vo.vendor_id] += plan.transfer_cents
    money = vo.money()
    if money.commission_to_record_cents:
        vo.record(EntryKind.COMMISSION, money.commission_to_record_cents)
    vo.paid_out = True
    assert books.debt_of(vo.vendor_id) == debt_before - plan.debt_settled_cents


# The model: the money rules computed again from what the buyer got back, exactly.


def half_up(value: Fraction) -> int:
    return floor(value + Fraction(1, 2))


def expected_money(vo: VendorOrder) -> tuple[int, int, int]:
    """(refunded goods, commission, payout) by the rules, goods first."""
    terms = vo.terms
    refunded_goods = min(vo.model_refunded, terms.subtotal_cents)
    commission = half_up(
        Fraction((terms.subtotal_cents - refunded_goods) * terms.commission_bps, 10_000)
    )
    left = vo.charged - vo.model_refunded - commission
    payout = left - min(terms.label_cost_cents, left)
    return refunded_goods, commission, payout


def check_books(books: Books) -> None:
    # Derived once per check: the ledger is replayed from scratch, as the system does.
    moneys = {vo.id: vo.money() for vo in books.vendor_orders.values()}
    for order_id, charged in books.charged.items():
        vendor_orders = books.of_order(order_id)
        refunded = 0
        still_owed = 0
        labels = 0
        for vo in vendor_orders:
            money = moneys[vo.id]
            refunded_goods, commission, payout = expected_money(vo)
            assert money.refunded_cents == vo.model_refunded <= vo.charged
            assert money.refunded_goods_cents == refunded_goods
            assert money.commission_cents == commission
            assert money.payout_cents == payout >= 0
            assert money.refundable_cents == vo.charged - vo.model_refunded
            assert money.transferred_cents >= 0 and money.net_transferred_cents >= 0
            # A reversal never takes back more than was transferred.
            assert money.reversed_cents <= money.transferred_cents
            if vo.paid_out:
                # Paid, and every refund after it reversed or owed: nothing is pending.
                assert money.paid_cents == payout
                assert money.to_reverse_cents == 0
                assert money.commission_recorded_cents == commission
                owed_back = money.reversed_cents > 0 or money.debt_cents > 0
                assert money.payout_status == ("reversed" if owed_back else "released")
            else:
                assert money.payout_status == "pending"
                assert money.transferred_cents == money.debt_settled_cents == 0
                still_owed += payout + commission
            refunded += money.refunded_cents
            labels += money.label_cost_cents
        assert refunded <= charged
        all_movements = [m for vo in vendor_orders for m in vo.movements]
        ledger = [Movement(EntryKind.CHARGE, charged), *all_movements]
        # The books balance: 0 once every vendor order is paid out, and before that exactly
        # what the platform still holds for vendors (their payouts and its commission).
        assert order_balance(charged, ledger, labels) == still_owed
    for vendor_id, cash in books.vendor_cash.items():
        mine = books.of_vendor(vendor_id)
        assert cash == sum(moneys[vo.id].net_transferred_cents for vo in mine)
        # What the vendor holds is what it is due, plus what it kept and still owes.
        due = sum(moneys[vo.id].payout_cents for vo in mine if vo.paid_out)
        assert cash == due + books.debt_of(vendor_id)


# Random marketplaces.


@st.composite
def vendor_order_lines(draw: st.DrawFn) -> list[PricedLine]:
    count = draw(st.integers(1, 3))
    lines = []
    for index in range(count):
        quantity = draw(st.integers(1, 5))
        unit = draw(st.integers(0, 5_000))
        lines.append(PricedLine(f"SKU-{index}", "ven", quantity, unit, unit * quantity))
    return lines


@st.composite
def marketplaces(draw: st.DrawFn) -> Books:
    vendors = [f"ven_{v}" for v in range(draw(st.integers(1, 3)))]
    bps = {v: draw(st.sampled_from([0, 1, 1_000, 1_250, 3_333, 10_000])) for v in vendors}
    books = Books()
    for order in range(draw(st.integers(1, 3))):
        order_id = f"ord_{order}"
        sellers = draw(st.lists(st.sampled_from(vendors), min_size=1, max_size=3, unique=True))
        vendor_orders = []
        for vendor_id in sellers:
            lines = draw(vendor_order_lines())
            terms = VendorOrderTerms(
                subtotal_cents=sum(line.line_total_cents for line in lines),
                shipping_cents=draw(st.sampled_from([0, 0, 1, 499, 1_500])),
                commission_bps=bps[vendor_id],
                label_cost_cents=draw(st.sampled_from([0, 0, 0, 650, 30_000])),
            )
            vo_id = f"{order_id}-{vendor_id}"
            vendor_orders.append(VendorOrder(vo_id, order_id, vendor_id, lines, terms))
        books.add_order(order_id, vendor_orders)
    return books


STEPS = st.sampled_from(["payout", "payout", "refund", "refund", "return", "unnamed", "too_much"])


@PROPERTY
@given(books=marketplaces(), data=st.data())
def test_refunds_payouts_reversals_and_debts_keep_the_books_balanced(
    books: Books, data: st.DataObject
) -> None:
    check_books(books)
    for _ in range(data.draw(st.integers(2, 14), label="steps")):
        step = data.draw(STEPS, label="step")
        unpaid = sorted(vo_id for vo_id, vo in books.vendor_orders.items() if not vo.paid_out)
        # A payout picks a vendor order still to pay, so few steps are spent doing nothing.
        choices = unpaid if step == "payout" and unpaid else sorted(books.vendor_orders)
        vo = books.vendor_orders[data.draw(st.sampled_from(choices), label="vendor order")]
        refundable = vo.money().refundable_cents
        succeeds = data.draw(st.booleans(), label="reversal succeeds")
        if step == "refund" and refundable:
            refund(books, vo, data.draw(st.integers(1, refundable), label="amount"), succeeds)
        elif step == "return":
            units = {
                line.sku: data.draw(
                    st.integers(0, line.quantity - vo.returned_units.get(line.sku, 0))
                )
                for line in vo.lines
            }
            amount = refund_for_units(vo.lines, vo.returned_units, units)
            if 1 <= amount <= refundable:
                refund(books, vo, amount, succeeds)
                for sku, count in units.items():
                    vo.returned_units[sku] = vo.returned_units.get(sku, 0) + count
        elif step == "unnamed":
            order = books.of_order(vo.order_id)
            left = {other.id: other.money().refundable_cents for other in order}
            if sum(left.values()):
                amount = data.draw(st.integers(1, sum(left.values())), label="unnamed amount")
                shares = attribute_unnamed_refund(amount, left)
                assert sum(shares.values()) == amount
                assert all(0 < share <= left[vo_id] for vo_id, share in shares.items())
                for vo_id, share in shares.items():
                    refund(books, books.vendor_orders[vo_id], share, succeeds)
        elif step == "too_much":
            excess = data.draw(st.integers(1, 10_000), label="excess")
            before = list(vo.movements)
            try:
                refund(books, vo, refundable + excess, succeeds)
            except ValidationFailed as refused:
                assert refused.extra["field"] == "amount_cents"
            else:
                raise AssertionError("a refund beyond what was charged was accepted")
            assert vo.movements == before
        elif step == "payout" and not vo.paid_out:
            pay_out(books, vo)
        check_books(books)

    settle_everything(books)


def settle_everything(books: Books) -> None:
    """Pay out every vendor order, recover every debt from new sales, and check the end state:
    every order balances to 0 and each vendor holds exactly the sum of its payouts."""
    for vo in list(books.vendor_orders.values()):
        if not vo.paid_out:
            pay_out(books, vo)
    check_books(books)
    for vendor_id in sorted(books.vendor_cash):
        debt = books.debt_of(vendor_id)
        if debt:
            # Goods worth twice the debt, at 50 % commission, pay out exactly the debt.
            order_id = f"ord_recovery_{vendor_id}"
            terms = VendorOrderTerms(
                subtotal_cents=2 * debt, shipping_cents=0, commission_bps=5_000
            )
            recovery = VendorOrder(f"{order_id}-{vendor_id}", order_id, vendor_id, [], terms)
            books.add_order(order_id, [recovery])
            pay_out(books, recovery)
            assert books.debt_of(vendor_id) == 0
    check_books(books)
    for order_id, charged in books.charged.items():
        vendor_orders = books.of_order(order_id)
        movements = [m for vo in vendor_orders for m in vo.movements]
        labels = sum(vo.money().label_cost_cents for vo in vendor_orders)
        assert order_balance(charged, movements, labels) == 0
    for vendor_id, cash in books.vendor_cash.items():
        assert cash == sum(vo.money().payout_cents for vo in books.of_vendor(vendor_id))


@PROPERTY
@given(
    first=st.integers(1, 50_000),
    second=st.integers(1, 50_000),
    bps=st.sampled_from([0, 1_000, 3_333, 10_000]),
    data=st.data(),
)
def test_a_refund_after_a_payout_that_netted_a_debt_keeps_the_books_balanced(
    first: int, second: int, bps: int, data: st.DataObject
) -> None:
    # The rare path of the random walk above, every time: the vendor owes a debt, its next
    # payout nets it, then that payout's order is refunded (the netted part is owed again).
    books = Books()
    terms = [VendorOrderTerms(goods, 0, bps) for goods in (first, second)]
    a, b = (VendorOrder(f"ord_{i}-ven", f"ord_{i}", "ven", [], terms[i]) for i in range(2))
    books.add_order("ord_0", [a])
    books.add_order("ord_1", [b])
    pay_out(books, a)
    refund(books, a, first, reversal_succeeds=False)
    pay_out(books, b)
    check_books(books)
    amount = data.draw(st.integers(1, second), label="refund of the netting payout")
    refund(books, b, amount, reversal_succeeds=data.draw(st.booleans(), label="succeeds"))
    check_books(books)
    settle_everything(books)


@PROPERTY
@given(
    amount=st.integers(1, 1_000_000),
    refundable=st.lists(st.integers(0, 1_000_000), min_size=1, max_size=6),
    data=st.data(),
)
def test_an_unnamed_refund_is_attributed_in_full_never_beyond_what_each_can_refund(
    amount: int, refundable: list[int], data: st.DataObject
) -> None:
    left = {f"vo_{index}": cents for index, cents in enumerate(refundable)}
    total = sum(left.values())
    if amount > total:
        try:
            attribute_unnamed_refund(amount, left)
        except ValidationFailed:
            return
        raise AssertionError("a refund beyond what the order can refund was attributed")

    shares = attribute_unnamed_refund(amount, left)

    assert sum(shares.values()) == amount
    for vo_id, share in shares.items():
        assert 0 < share <= left[vo_id]
        # Within a cent of its exact share.
        assert abs(Fraction(share) - Fraction(amount * left[vo_id], total)) < 1
    shuffled = dict(data.draw(st.permutations(list(left.items())), label="row order"))
    assert attribute_unnamed_refund(amount, shuffled) == shares
