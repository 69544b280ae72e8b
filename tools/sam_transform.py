"""Apply the SAM transform to a template read as JSON on stdin; print the CloudFormation JSON.

Runs with the SAM CLI's own virtualenv (`.venv-sam/bin/python tools/sam_transform.py`), which holds
aws-sam-translator: that package pins a pydantic older than the bundle's, so it cannot live in .venv.
Managed policy names are not resolved (no AWS call): the output is for structural checks only.
"""

import json
import os
import sys

from samtranslator.translator.transform import transform


class NoManagedPolicies:
    def load(self) -> dict[str, str]:
        return {}


def main() -> None:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    document = json.load(sys.stdin)
    json.dump(transform(document, {}, NoManagedPolicies()), sys.stdout)


if __name__ == "__main__":
    main()
