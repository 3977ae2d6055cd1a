"""Vendors' webhooks: one signed POST per notification (format in docs/vendor-webhooks.md).

An attempt either gets a 2xx (delivered), a 410 (the vendor removed its endpoint: stop), is
refused by the outbound rules (a loopback, private or metadata address, checked again after
resolving the name: final, never retried), or raises a retryable error so Temporal tries
again with backoff. Each attempt signs with its
own timestamp; the event id stays the same, so the vendor can drop a repeated delivery.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import httpx
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.webhook_sender import WebhookSender
from domain.errors import ErrorCode
from domain.outbound_urls import ForbiddenUrl
from domain.signing import SIGNATURE_HEADER, sign
from models.messages.notifications import NotificationOutcome, VendorNotification
from models.vendor import Vendor
from temporal.names import Activity

USER_AGENT = "fulfillment-webhooks/1"
REQUEST_TIMEOUT_SECONDS = 10.0
FAILED = ErrorCode.VENDOR_WEBHOOK_FAILED
UNUSABLE_URL = ErrorCode.VENDOR_WEBHOOK_URL_INVALID
FORBIDDEN_URL = ErrorCode.VENDOR_WEBHOOK_URL_FORBIDDEN

# One count per attempt, by how it ended: delivered, gone (410), skipped_<why> (nothing sent),
# failed (retried by Temporal), refused_url / unusable_url (final). Attempts, not events: a
# vendor whose endpoint is down shows as a rising `failed`.
DELIVERIES = Counter(
    "fulfillment_webhook_deliveries_total",
    "Vendor webhook delivery attempts by outcome",
    ["outcome"],
)


_FAILURES: dict[str, str] = {FORBIDDEN_URL: "refused_url", UNUSABLE_URL: "unusable_url"}


def payload(notification: VendorNotification) -> bytes:
    """The exact bytes that are signed and sent: compact JSON, keys sorted."""
    document = {
        "id": notification.event_id,
        "type": notification.type,
        "created_at": notification.created_at.isoformat(),
        "vendor_id": notification.vendor_id,
        "vendor_order_id": notification.vendor_order_id,
        "data": notification.data,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8")


class NotificationActivities:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        webhooks: WebhookSender,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._sessions = sessions
        self._webhooks = webhooks
        self._clock = clock

    @activity.defn(name=Activity.DELIVER_NOTIFICATION)
    async def deliver(self, notification: VendorNotification) -> NotificationOutcome:
        try:
            outcome = await self._deliver(notification)
        except ApplicationError as error:
            DELIVERIES.labels(_FAILURES.get(error.type or "", "failed")).inc()
            raise
        except Exception:
            DELIVERIES.labels("failed").inc()
            raise
        if outcome.delivered:
            DELIVERIES.labels("delivered").inc()
        else:
            DELIVERIES.labels(f"skipped_{outcome.skipped}" if outcome.skipped else "gone").inc()
        return outcome

    async def _deliver(self, notification: VendorNotification) -> NotificationOutcome:
        # Read on every attempt: a vendor who fixes or removes its URL is heard at once.
        async with self._sessions() as session:
            query = select(col(Vendor.webhook_url), col(Vendor.webhook_secret)).where(
                col(Vendor.id) == notification.vendor_id
            )
            row = (await session.exec(query)).first()
        if row is None:
            return NotificationOutcome(delivered=False, skipped="unknown_vendor")
        url, secret = row
        if not url:
            return NotificationOutcome(delivered=False, skipped="no_webhook_url")
        if not secret:
            # Never send unsigned: the vendor could not tell us from anyone else.
            return NotificationOutcome(delivered=False, skipped="no_webhook_secret")
        body = payload(notification)
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(secret, int(self._clock()), body),
            "Fulfillment-Event-Id": notification.event_id,
            "Fulfillment-Event-Type": notification.type,
            "User-Agent": USER_AGENT,
        }
        status = await self._post(url, body, headers, notification)
        if 200 <= status < 300:
            return NotificationOutcome(delivered=True, status_code=status)
        if status == httpx.codes.GONE:
            activity.logger.info(
                "vendor %s answered 410 to %s: giving up",
                notification.vendor_id,
                notification.event_id,
            )
            return NotificationOutcome(delivered=False, status_code=status)
        raise ApplicationError(
            f"the vendor's webhook answered {status} {httpx.codes.get_reason_phrase(status)}",
            {"status_code": status},
            type=FAILED,
        )

    async def _post(
        self, url: str, body: bytes, headers: dict[str, str], notification: VendorNotification
    ) -> int:
        try:
            return await self._webhooks.post(url, body, headers, REQUEST_TIMEOUT_SECONDS)
        except ForbiddenUrl as refused:
            # Set before the rules existed, or a name that now resolves inside our network:
            # no retry makes it acceptable, and the workflow records that it gave up.
            activity.logger.warning(
                "refused to notify vendor %s of %s: %s (rule %s)",
                notification.vendor_id,
                notification.event_id,
                refused.detail,
                refused.rule,
            )
            raise ApplicationError(
                f"the webhook URL of vendor {notification.vendor_id} is refused: {refused.detail}",
                {"rule": refused.rule},
                type=FORBIDDEN_URL,
                non_retryable=True,
            ) from refused
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as error:
            # Retrying cannot fix the URL; the workflow records that it gave up.
            raise ApplicationError(
                f"the webhook URL of vendor {notification.vendor_id} is unusable: {error}",
                type=UNUSABLE_URL,
                non_retryable=True,
            ) from error
        except httpx.HTTPError as error:
            raise ApplicationError(
                f"the vendor's webhook could not be reached: {type(error).__name__} {error}",
                {"status_code": None},
                type=FAILED,
            ) from error


__all__ = ["NotificationActivities", "payload"]
