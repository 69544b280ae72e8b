"""README's bench figures are the committed results file's, as ``python -m bench.readme_table`` renders them.

Fast: reads README.md and the file it names; no bench run.
"""

from __future__ import annotations

import json

from bench.readme_table import README, REPO, current_block, expected_block, render, source_of


def _block() -> str:
    block = current_block(README.read_text(encoding="utf-8"))
    assert block is not None, "README.md lost its generated bench table (python -m bench.readme_table)"
    return block


def test_readme_names_a_committed_results_file_with_commit_machine_and_settings() -> None:
    source = source_of(_block())
    assert source is not None and source.startswith("bench/results/")
    results = json.loads((REPO / source).read_text(encoding="utf-8"))
    assert len(results["commit"]["sha"]) == 40
    assert results["machine"]["name"] and results["machine"]["cpus"]
    assert results["settings"]["argv"] is not None
    assert results["figures"], "a results file without figures"


def test_readme_table_is_the_one_generated_from_that_file() -> None:
    block = _block()
    source = source_of(block)
    assert source is not None
    assert block == expected_block(source), (
        f"README.md's bench table differs from {source}: run python -m bench.readme_table {source} --write"
    )


def test_a_changed_figure_is_caught() -> None:
    results = {
        "commit": {"sha": "a" * 40, "dirty": False},
        "machine": {"name": "m", "cpus": 2, "python": "3.11"},
        "settings": {"argv": ["--quick"]},
        "measured_at": "2026-12-08T00:00:00+00:00",
        "figures": [
            {"workload": "push", "name": "QBO calls per invoice, warm", "unit": "calls", "ours": 1.0,
             "baseline": 1.9, "goal": None, "better": "lower", "notes": "n | m"},
        ],
    }
    block = render(results, "bench/results/x.json")
    assert "| push: QBO calls per invoice, warm | calls | 1 | 1.90 | 0.53× |  | n \\| m |" in block
    assert source_of(block) == "bench/results/x.json"
    results["figures"][0]["ours"] = 1.5
    assert render(results, "bench/results/x.json") != block
