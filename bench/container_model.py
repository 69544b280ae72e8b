"""KMS and Secrets Manager calls per 10,000 pushed invoices under a stated container model (pure arithmetic).

In the bench every function shares one process and one warm cache, so it makes almost no KMS or Secrets
Manager calls; in Lambda each container has its own cache and containers come and go. What the layer
caches (read from the code, not measured): the Intuit app secret for ``SECRET_MAX_AGE_SECONDS`` (300 s,
``intuit_app.py``); each company's decrypted access token per container until the token's version
changes (``tokens.py``); a refresh decrypts the refresh token and encrypts both new tokens.

The model (every parameter is in the results file's settings):
- the invoices are pushed over ``hours`` to ``companies`` companies, evenly;
- ``warm_containers`` pusher containers are warm all along (the push queue's ``MaximumConcurrency``,
  an upper bound) and each is replaced by a cold start every ``container_minutes``;
- a container re-reads the secret every 300 s while warm and once per cold start;
- a company's invoices land on containers at random: in each window of ``min(container, token)``
  minutes a company costs one Decrypt per distinct container its invoices reach,
  ``C · (1 − (1 − 1/C)^k)`` for ``k`` invoices in the window and ``C`` containers;
- each active company refreshes once per ``token_minutes`` (QBO access tokens last an hour):
  ``kms_per_refresh`` calls (1 Decrypt of the refresh token + 1 Encrypt of the new access token), plus
  1 Encrypt of the refresh token when Intuit rotated it, once per ``refresh_rotation_hours`` (24 h:
  Intuit returns the same refresh token for a day, and ``tokens.encrypt_tokens`` then keeps its
  ciphertext).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class ContainerModel:
    hours: float = 24.0
    companies: int = 100
    warm_containers: int = 5
    container_minutes: float = 30.0
    token_minutes: float = 60.0
    secret_max_age_seconds: float = 300.0
    secret_calls_per_cold_start: int = 1
    kms_per_refresh: int = 2
    refresh_rotation_hours: float = 24.0

    def cold_starts(self) -> float:
        return self.warm_containers * self.hours * 60 / self.container_minutes

    def secrets_manager_calls(self) -> float:
        warm_reads = self.warm_containers * self.hours * 3600 / self.secret_max_age_seconds
        return warm_reads + self.cold_starts() * self.secret_calls_per_cold_start

    def kms_requests(self, invoices: int) -> float:
        window = min(self.container_minutes, self.token_minutes)
        windows = self.hours * 60 / window
        per_company_window = invoices / self.companies / windows
        containers = self.warm_containers
        distinct = containers * (1 - (1 - 1 / containers) ** per_company_window)
        decrypts = self.companies * windows * distinct
        refreshes = self.companies * self.hours * 60 / self.token_minutes
        rotations = self.companies * self.hours / self.refresh_rotation_hours
        return float(decrypts + refreshes * self.kms_per_refresh + rotations)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
