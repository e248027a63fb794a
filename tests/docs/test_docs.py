"""The generated docs stay in sync with their sources, and the README stays a map."""

import re
from pathlib import Path

import pytest
from nnstudy import docs
from nnstudy.report.contents import tex_engine

from nnlib.registry import optimizer_names

ROOT = Path(__file__).resolve().parents[2]
PAGES = [
    ROOT / "README.md",
    ROOT / "benchmarks" / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
]


def test_config_reference_is_generated_from_the_schema():
    assert docs.PAGE.read_text() == docs.config_reference(), "run: make docs"


def test_config_reference_documents_every_setting_with_its_default():
    page = docs.PAGE.read_text()
    # Every optimizer of nnlib's registry, in its order (the schema takes them from there).
    choices = " \\| ".join(f"`{name}`" for name in optimizer_names())
    assert f'| `defaults.optimizer` | {choices} | `"adam"` |' in page
    assert "`nadam` |" in page and "## nadam_params" in page
    assert "| `wandb.mode` |" in page and "## tune" in page


@pytest.mark.slow
def test_rule_graph_is_the_workflow_s():
    if tex_engine() is None:  # report_pdf is in the DAG only with TeX, as when it was drawn
        pytest.skip("no TeX engine: the committed graph includes report_pdf")
    assert docs.RULEGRAPH.read_text() == docs.rule_graph(), "run: make docs"
    assert docs.RULEGRAPH.with_suffix(".svg").exists()


def test_readme_is_a_map_of_at_most_200_lines():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 200


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page):
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text()):
        assert (page.parent / target).exists(), f"{page.name}: broken link {target}"
