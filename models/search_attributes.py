"""Search attributes operators filter on in the Temporal Web UI (API.md, "Operators").

Declared here, beside the messages, because workflows upsert them and the API sets them at
start; `temporal/search_attributes.py` registers them with the server.

Visibility is for people: business decisions never read these back (DESIGN.md).
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

ORDER_STATUS = SearchAttributeKey.for_keyword("OrderStatus")
CUSTOMER_ID = SearchAttributeKey.for_keyword("CustomerId")
VENDOR_IDS = SearchAttributeKey.for_keyword_list("VendorIds")
ORDER_TOTAL = SearchAttributeKey.for_int("OrderTotal")
ATTENTION_NEEDED = SearchAttributeKey.for_keyword("AttentionNeeded")
WAITING_SINCE = SearchAttributeKey.for_datetime("WaitingSince")
VENDOR_ID = SearchAttributeKey.for_keyword("VendorId")

ALL = (
    ORDER_STATUS,
    CUSTOMER_ID,
    VENDOR_IDS,
    ORDER_TOTAL,
    ATTENTION_NEEDED,
    WAITING_SINCE,
    VENDOR_ID,
)
