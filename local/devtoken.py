"""Local development tokens: what the Kyrios UI's JWT is to the deployed API, for the local front door.

In AWS the HTTP API's JWT authorizer checks the UI's token (issuer and audience from the template
parameters ``JwtIssuer``/``JwtAudience``) and hands the claims to the function. Locally there is
no identity provider, so tokens are HS256 JWTs signed with a development key that only exists on
this machine; the front door verifies them exactly like the authorizer would (signature, ``exp``,
``nbf``, ``iss``, ``aud``) and answers 401 otherwise.

    python -m local.devtoken --account acct-demo      # prints a token valid for 12 hours

The account id travels in the claim named by ``ACCOUNT_ID_CLAIM`` (default ``kyrios:account_id``),
the claim the API function reads.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

from local.template import load_template

DEV_SIGNING_KEY = os.environ.get("LOCAL_DEV_JWT_KEY", "kyrios-local-development-key-not-a-secret")
"""Known to everyone on purpose: it only opens the local front door on 127.0.0.1."""
DEFAULT_ACCOUNT_CLAIM = "kyrios:account_id"
DEFAULT_TTL_SECONDS = 12 * 3600


class InvalidToken(ValueError):
    """The token is malformed, badly signed, expired, or for another issuer/audience."""


def account_id_claim() -> str:
    return os.environ.get("ACCOUNT_ID_CLAIM", DEFAULT_ACCOUNT_CLAIM)


def template_issuer_and_audiences(template: Mapping[str, Any] | None = None) -> tuple[str, list[str]]:
    """The authorizer's accepted issuer and audiences: the template parameters' defaults."""
    params = (template or load_template())["Parameters"]
    issuer = str(params["JwtIssuer"]["Default"])
    audiences = params["JwtAudience"]["Default"]
    if isinstance(audiences, str):
        audiences = [part.strip() for part in audiences.split(",")]
    return issuer, [str(audience) for audience in audiences]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode((text + "=" * (-len(text) % 4)).encode("ascii"))
    except (ValueError, TypeError) as exc:  # binascii.Error and non-ASCII text are ValueErrors
        raise InvalidToken("token is not base64url") from exc


def make_token(
    account_id: str,
    *,
    issuer: str,
    audience: str,
    ttl_seconds: int = DEFAULT_TTL_SECONDS,
    extra_claims: Mapping[str, Any] | None = None,
    key: str = DEV_SIGNING_KEY,
    now: float | None = None,
) -> str:
    """An HS256 JWT carrying ``account_id`` in the account claim."""
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": f"user-of-{account_id}",
        "iat": issued,
        "nbf": issued,
        "exp": issued + ttl_seconds,
        account_id_claim(): account_id,
        **(extra_claims or {}),
    }
    header = {"alg": "HS256", "typ": "JWT"}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(key.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def verify_token(
    token: str,
    *,
    issuer: str,
    audiences: Sequence[str],
    key: str = DEV_SIGNING_KEY,
    now: float | None = None,
) -> dict[str, Any]:
    """The token's claims if it is valid for this issuer and one of these audiences."""
    parts = token.split(".")
    if len(parts) != 3:
        raise InvalidToken("not a JWT")
    try:
        header = json.loads(_unb64(parts[0]).decode("utf-8"))
        claims = json.loads(_unb64(parts[1]).decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # not UTF-8, not JSON, or nested too deep
        raise InvalidToken("JWT parts are not UTF-8 JSON") from exc
    if not isinstance(header, dict) or header.get("alg") != "HS256":
        raise InvalidToken("only HS256 development tokens are accepted")
    expected = hmac.new(key.encode(), f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, _unb64(parts[2])):
        raise InvalidToken("bad signature")
    if not isinstance(claims, dict):
        raise InvalidToken("claims are not an object")
    moment = time.time() if now is None else now
    if not isinstance(claims.get("exp"), int | float) or claims["exp"] <= moment:
        raise InvalidToken("expired")
    if isinstance(claims.get("nbf"), int | float) and claims["nbf"] > moment + 60:
        raise InvalidToken("not valid yet")
    if claims.get("iss") != issuer:
        raise InvalidToken("wrong issuer")
    token_audiences = claims.get("aud")
    token_audiences = [token_audiences] if isinstance(token_audiences, str) else token_audiences or []
    if not set(token_audiences) & set(audiences):
        raise InvalidToken("wrong audience")
    return claims


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Print a development JWT for the local front door.")
    parser.add_argument("--account", required=True, help="Kyrios account id the token speaks for")
    parser.add_argument("--ttl", type=int, default=DEFAULT_TTL_SECONDS, help="lifetime in seconds")
    args = parser.parse_args(argv)
    issuer, audiences = template_issuer_and_audiences()
    print(make_token(args.account, issuer=issuer, audience=audiences[0], ttl_seconds=args.ttl))


if __name__ == "__main__":
    main()
