"""Search attributes operators filter on in the Temporal Web UI (API.md, "Operators"): the
keys workflows upsert and the API sets at start, and their registration with a server.

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

_TYPE_NAMES = {
    "KEYWORD": "Keyword",
    "KEYWORD_LIST": "KeywordList",
    "INT": "Int",
    "DATETIME": "Datetime",
    "TEXT": "Text",
    "FLOAT": "Double",
    "BOOL": "Bool",
}

# Name -> type, as `temporal server start-dev --search-attribute Name=Type` wants them.
DEV_SERVER_TYPES = {
    key.name: _TYPE_NAMES[key.indexed_value_type.name.removeprefix("INDEXED_VALUE_TYPE_")]
    for key in ALL
}
