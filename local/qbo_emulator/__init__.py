"""A QuickBooks Online emulator on loopback for tests, benchmarks and the demo (see README.md).

from local.qbo_emulator import EmulatorServer
srv = EmulatorServer.start(port=0, time_scale=1.0, rate_limits=True)
srv.url, srv.discovery_url, srv.api_base, srv.control
srv.stop()
"""

from .control import EmulatorControl
from .core import Emulator
from .seed import (
    AU_REALM,
    CA_REALM,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_REDIRECT_URIS,
    DEFAULT_VERIFIER_TOKEN,
    GB_REALM,
    US_REALM,
)
from .server import EmulatorServer
from .state import EmulatorConfig

__all__ = [
    "AU_REALM",
    "CA_REALM",
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "DEFAULT_REDIRECT_URIS",
    "DEFAULT_VERIFIER_TOKEN",
    "GB_REALM",
    "US_REALM",
    "Emulator",
    "EmulatorConfig",
    "EmulatorControl",
    "EmulatorServer",
]
