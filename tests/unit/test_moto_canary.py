"""A canary for the moto internals ``local/stepfunctions.py`` patches (the one place that touches them).

The local stack runs the import state machine with moto's ASL interpreter and patches three private
spots: ``LambdaSimpleBackend.invoke`` (to run our functions in process), ``Environment.set_error`` with
``Environment._program_state`` / ``ProgramStopped`` (StopExecution stays ABORTED) and the retrier
module's ``time`` (scaled retry waits). moto is pinned in ``requirements-dev.txt``; when someone moves
the pin, these tests fail first and say what to re-check, instead of an import test hanging or an
execution silently ending FAILED.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import moto
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped

REPO = Path(__file__).resolve().parents[2]
PATCHED_IN = "local/stepfunctions.py"


def _pinned_moto() -> str:
    text = (REPO / "requirements-dev.txt").read_text()
    match = re.search(r"^moto(?:\[[^\]]*\])?==([^\s;#]+)", text, re.MULTILINE)
    assert match, f"requirements-dev.txt must pin moto exactly (==): {PATCHED_IN} patches its internals"
    return match.group(1)


def test_installed_moto_is_the_pinned_one() -> None:
    assert moto.__version__ == _pinned_moto(), (
        f"moto {moto.__version__} is installed but {_pinned_moto()} is pinned; re-check {PATCHED_IN}'s "
        "patches against the new version, then move the pin"
    )


def test_lambda_invoke_keeps_the_signature_the_dispatcher_forwards() -> None:
    parameters = list(inspect.signature(LambdaSimpleBackend.invoke).parameters)
    assert parameters == ["self", "function_name", "qualifier", "body", "headers", "response_headers"], (
        f"moto changed LambdaSimpleBackend.invoke to {parameters}: update _dispatching_invoke in {PATCHED_IN}"
    )


def test_environment_still_records_errors_and_knows_a_stopped_program() -> None:
    assert list(inspect.signature(Environment.set_error).parameters) == ["self", "error"]
    source = inspect.getsource(Environment)
    assert "_program_state" in source, f"Environment no longer keeps _program_state: see {PATCHED_IN}"
    assert inspect.isclass(ProgramStopped)


def test_retrier_still_sleeps_through_its_module_time() -> None:
    assert getattr(retrier_decl, "time", None) is not None, (
        f"moto's retrier no longer imports time at module level: the scaled waits in {PATCHED_IN} do nothing"
    )
    assert "time.sleep(" in inspect.getsource(retrier_decl), (
        f"moto's retrier no longer calls time.sleep: the scaled waits in {PATCHED_IN} do nothing"
    )
