"""Messages workflows and activities exchange: one model per input, so fields can be added
compatibly (DESIGN.md). Pydantic models, carried by the pydantic data converter.

One module per concept: checkout, vendor_order, shipping, returns, money, notifications.
A payload is its fields' JSON, not its class's module, so a model may move between these
modules; its name and fields stay as they are: recorded histories carry them.
"""
