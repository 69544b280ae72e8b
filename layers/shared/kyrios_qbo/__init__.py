"""Shared layer of the Kyrios ⇄ QuickBooks Online bundle.

One module per concern: ``config`` (settings from the environment), ``observability`` (Powertools
logger/tracer/metrics), ``models`` (pydantic models of events, QBO entities and API bodies),
``store`` (every DynamoDB access pattern), ``events`` (publishing to the bus), ``tokens``,
``qbo_client``, ``matching``, ``mapping``, ``tax`` and ``synclog``.

Nothing here imports AWS event shapes: handlers under ``functions/`` adapt events to these modules.
"""
