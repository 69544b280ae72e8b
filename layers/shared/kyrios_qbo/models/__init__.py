"""Pydantic models: Kyrios events we consume (``kyrios``), events we publish (``published``) and
the QBO entities we read (``qbo``)."""
