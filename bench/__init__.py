"""``python -m bench``: the bundle's figures measured side by side with a python-quickbooks baseline."""
