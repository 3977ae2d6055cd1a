"""The base of every request body: a field the contract does not know is refused (422).

A misspelt optional field (`"comission_bps"`) silently ignored is a setting the caller thinks
it made; a 5 MB field nobody reads is a body the API parsed for nothing. Every model a route
reads from a JSON body derives from RequestModel, its nested models too
(tests/unit/test_request_models.py walks the app's routes to hold every one to it).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
