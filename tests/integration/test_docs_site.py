"""The docs site of ``make docs``: a page for every module, role, filter and callback of the collection.

Run by ``make test-docs`` (GITOPS_DOCS_SITE: the HTML directory that ``make docs`` built with Sphinx,
warnings as errors). Offline; no cluster.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _expected_pages() -> set[str]:
    pages = {f"{p.stem}_module.html" for p in (ROOT / "plugins" / "modules").glob("*.py") if p.stem != "__init__"}
    # every filter of plugins/filter has a documentation file of its own
    pages |= {f"{p.stem}_filter.html" for p in (ROOT / "plugins" / "filter").glob("*.yml")}
    pages |= {f"{p.stem}_callback.html" for p in (ROOT / "plugins" / "callback").glob("*.py") if p.stem != "__init__"}
    pages |= {f"{p.name}_role.html" for p in (ROOT / "roles").iterdir() if (p / "meta" / "argument_specs.yml").is_file()}
    return pages


@pytest.fixture(scope="module")
def site() -> Path:
    value = os.environ.get("GITOPS_DOCS_SITE", "")
    if not value:
        pytest.fail("GITOPS_DOCS_SITE is not set: run this test with `make test-docs`")
    path = Path(value)
    assert (path / "index.html").is_file(), f"{path} holds no built site: run `make docs`"
    return path


def test_every_plugin_and_role_has_its_page(site: Path) -> None:
    pages = {p.name for p in (site / "collections" / "gitops" / "bootstrap").glob("*_*.html")}
    expected = _expected_pages()
    assert len(expected) > 40
    assert not expected - pages, f"no page for {sorted(expected - pages)}"
    assert not pages - expected - {"index.html"}, f"pages of nothing in the collection: {sorted(pages - expected)}"


def test_no_page_is_an_error_page(site: Path) -> None:
    broken = [p.name for p in (site / "collections" / "gitops" / "bootstrap").glob("*.html") if "was malformed" in p.read_text()]
    assert not broken, f"antsibull-docs could not read the documentation of {broken}"


def test_pages_are_reachable_from_the_collection_index(site: Path) -> None:
    index = (site / "collections" / "gitops" / "bootstrap" / "index.html").read_text()
    missing = [page for page in sorted(_expected_pages()) if f'href="{page}' not in index]
    assert not missing, f"the collection index links no {missing}"
