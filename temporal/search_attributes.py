"""Registering the search attributes (declared in models/search_attributes.py) with a server."""

from __future__ import annotations

from models.search_attributes import ALL

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
