"""The repository stands alone: no file in it points at a folder beside it.

People who use this repository have only a clone of it (CI runs one with nothing next to it), so a
test, a tool or a document that reads or cites a sibling folder (the old notes and sample folders
that lived next to the repository) breaks for them. Samples belong in ``tests/fixtures``, notes in
``docs/``.

The forbidden names are assembled from parts below, so this file holds none of them literally and
is scanned like every other file.
"""

from __future__ import annotations

import re
import subprocess

import pytest

from local.template import REPO_ROOT

_SIBLING = "shared"
_OUTSIDE_REFERENCES = [
    # a relative path that climbs out of the repository into the sibling folder
    re.compile(r"\.\./+" + _SIBLING + r"\b"),
    # the sibling folder's notes and samples, however they are reached
    re.compile(_SIBLING + r"/+(qbo-(samples|notes)|architecture|style)\b"),
    re.compile(r"\bqbo-" + r"(samples|notes)\b"),
]


def repository_files() -> list[str]:
    """Tracked files plus new ones not ignored (so a file is checked before its first commit)."""
    try:
        listing = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO_ROOT,
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:  # pragma: no cover - not a git checkout
        pytest.skip(f"not a git checkout, cannot list the repository's files: {exc}")
    return sorted({name for name in listing.decode().split("\0") if name})


def outside_references(text: str) -> list[tuple[int, str]]:
    """(line number, line) of every line that names a path outside the repository."""
    return [
        (number, line.strip())
        for number, line in enumerate(text.splitlines(), start=1)
        if any(pattern.search(line) for pattern in _OUTSIDE_REFERENCES)
    ]


def test_the_detector_finds_each_kind_of_outside_reference() -> None:
    up = "../"
    assert outside_references(f"SAMPLES = ROOT / '{up}{_SIBLING}' / 'x'") != []
    assert outside_references(f"see `{up}{_SIBLING}/architecture.md`") != []
    assert outside_references(f'ROOT.parent / "{_SIBLING}" / "qbo-' + 'samples"') != []
    assert outside_references(f"Sources: {_SIBLING}/style.md, then qbo-" + "notes.md") != []
    # what the repository legitimately says
    assert outside_references("layers/shared/kyrios_qbo, shared IAM policies, Fixtures shared by all") == []
    assert outside_references("tests/fixtures/qbo/SOURCES.md and docs/qbo-facts.md") == []


def test_no_file_refers_outside_the_repository() -> None:
    files = repository_files()
    assert "tests/fixtures/qbo/SOURCES.md" in files, "the listing missed the repository's own files"
    offenders = []
    for name in files:
        path = REPO_ROOT / name
        if not path.is_file():  # deleted in the working tree, not yet committed
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:  # images and other binaries cite nothing
            continue
        offenders += [f"{name}:{number}: {line}" for number, line in outside_references(text)]
    assert not offenders, "files refer outside the repository:\n" + "\n".join(offenders)


def test_every_sample_the_tests_use_is_in_the_repository() -> None:
    from tests.fixtures import QBO_SAMPLES

    assert QBO_SAMPLES.is_relative_to(REPO_ROOT)
    listed = set(re.findall(r"[\w./-]+\.(?:json|xml|txt)", (QBO_SAMPLES / "SOURCES.md").read_text()))
    present = {str(path.relative_to(QBO_SAMPLES)) for path in QBO_SAMPLES.rglob("*") if path.is_file()}
    present.discard("SOURCES.md")
    # every file kept here has its source written down
    assert present <= listed, f"samples without a source in SOURCES.md: {sorted(present - listed)}"
