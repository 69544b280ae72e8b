"""Run the emulator on 127.0.0.1 in a background thread (tests) or in the foreground (demo)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .app import create_app
from .control import EmulatorControl
from .core import Emulator
from .state import EmulatorConfig


class _Handler(WSGIRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as clients expect from Intuit


class _QuietHandler(_Handler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return


@dataclass
class EmulatorServer:
    emulator: Emulator
    server: BaseWSGIServer
    thread: threading.Thread | None
    host: str

    @classmethod
    def create(
        cls, port: int = 0, host: str = "127.0.0.1", quiet: bool = True, **config: Any
    ) -> EmulatorServer:
        cfg = EmulatorConfig()
        cfg.update(config)
        emu = Emulator(cfg)
        app = create_app(emu)
        server = make_server(
            host, port, app, threaded=True, request_handler=_QuietHandler if quiet else _Handler
        )
        server.daemon_threads = True  # type: ignore[attr-defined]
        emu.base_url = f"http://{host}:{server.server_port}"
        return cls(emu, server, None, host)

    @classmethod
    def start(
        cls,
        port: int = 0,
        time_scale: float = 1.0,
        rate_limits: bool = True,
        host: str = "127.0.0.1",
        **config: Any,
    ) -> EmulatorServer:
        """Start in a daemon thread; ``port=0`` picks a free port. Extra keywords set EmulatorConfig."""
        srv = cls.create(port=port, host=host, time_scale=time_scale, rate_limits=rate_limits, **config)
        srv.thread = threading.Thread(
            target=srv.server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"qbo-emulator-{srv.port}",
            daemon=True,
        )
        srv.thread.start()
        return srv

    def serve_forever(self) -> None:
        logging.getLogger(__name__).info("QBO emulator on %s", self.url)
        try:
            self.server.serve_forever()
        finally:
            self.emulator.close()

    @property
    def port(self) -> int:
        return int(self.server.server_port)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def discovery_url(self) -> str:
        return f"{self.url}/.well-known/openid_configuration"

    @property
    def api_base(self) -> str:
        return f"{self.url}/v3/company/"

    @property
    def control(self) -> EmulatorControl:
        return EmulatorControl(self.url)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        if self.thread is not None:
            self.thread.join(timeout=5)
        self.emulator.close()

    def __enter__(self) -> EmulatorServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
