"""The pieces of ``python -m local.demo``: the actors (Kyrios UI, Kyrios core, a QBO user), the report,
and the story itself (``story.py``)."""
