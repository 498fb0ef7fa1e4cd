"""Sphinx configuration of the skmedtl documentation.

Build (offline; the gallery examples run on the CPU)::

    pip install -e ".[docs]"
    sphinx-build -W -b html docs docs/_build/html

``SKMEDTL_DOCS_PLOT_GALLERY=0`` skips running the examples (a fast build for
editing the text).
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS))

# The documentation never downloads anything: the examples use the bundled data
# and the ImageNet weights that install with skmedtl.
os.environ.setdefault("SKMEDTL_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "agg")

from _apigen import write_api_pages  # noqa: E402

import skmedtl  # noqa: E402

project = "skmedtl"
author = "skmedtl developers"
copyright = "skmedtl developers, BSD-3-Clause"
release = skmedtl.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
# No intersphinx: builds run offline, and links to other projects' inventories
# would need the network. References to scikit-learn or torch objects render as
# code without a link.

templates_path = ["_templates"]
exclude_patterns = [
    "_build",
    "**.ipynb_checkpoints",
    "auto_examples/*.ipynb",
    "auto_examples/*.py",
    "auto_examples/*.zip",
    "auto_examples/*.json",
    "auto_examples/*.md5",
]
root_doc = "index"
default_role = "literal"
pygments_style = "sphinx"

# -- API reference ---------------------------------------------------------------
# One page lists every name of every public __all__ (docs/_apigen.py); autosummary
# writes a page per object into api/generated/.
write_api_pages(DOCS)
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"member-order": "groupwise"}
autodoc_typehints = "none"  # the numpydoc sections document the types
add_module_names = False
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# -- Gallery ---------------------------------------------------------------------
_plot_gallery = os.environ.get("SKMEDTL_DOCS_PLOT_GALLERY", "1") not in ("0", "")
sphinx_gallery_conf = {
    "examples_dirs": ["../examples"],
    "gallery_dirs": ["auto_examples"],
    "filename_pattern": r"/plot_",
    "plot_gallery": _plot_gallery,
    "within_subsection_order": "_gallery.ExampleOrder",
    "reset_modules": ("matplotlib", "_gallery.reset_torch_threads"),
    "doc_module": ("skmedtl",),
    "backreferences_dir": "gen_modules/backreferences",
    "download_all_examples": False,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "min_reported_time": 1,
    "show_memory": False,
    # The timing page would load JavaScript from CDNs; each example's page shows
    # its own running time.
    "write_computation_times": False,
    "capture_repr": ("_repr_html_", "__repr__"),
    # An example that raises fails the build.
    "only_warn_on_example_error": False,
}
# Matplotlib's agg backend: no display in CI.
warnings.filterwarnings(
    "ignore",
    category=UserWarning,
    message="FigureCanvasAgg is non-interactive, and thus cannot be shown",
)

# -- HTML ------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skmedtl {release}"
html_show_sourcelink = False
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "header_links_before_dropdown": 6,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_context = {"default_mode": "auto"}


# -- Command-line help -------------------------------------------------------------
def _write_cli_help(folder: Path) -> None:
    """``skmedtl <command> --help`` of every command, for user_guide/cli.rst."""
    import argparse

    from skmedtl.cli import build_parser

    folder.mkdir(parents=True, exist_ok=True)
    columns = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "88"  # argparse wraps to the terminal width
    try:
        pages = {"skmedtl": build_parser()}
        todo = [("skmedtl", pages["skmedtl"])]
        while todo:
            name, parser = todo.pop()
            for action in parser._actions:
                if isinstance(action, argparse._SubParsersAction):
                    for sub, subparser in action.choices.items():
                        pages[f"{name} {sub}"] = subparser
                        todo.append((f"{name} {sub}", subparser))
        for name, parser in pages.items():
            text = parser.format_help()
            path = folder / (name.replace(" ", "_") + ".txt")
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                path.write_text(text, encoding="utf-8")
    finally:
        if columns is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = columns


_write_cli_help(DOCS / "gen_modules" / "cli")


# -- Hooks -------------------------------------------------------------------------
def _document_data(app, what, name, obj, options, lines):
    """Constants: their ``#:`` comment (not their type's docstring), and value."""
    if what != "data":
        return
    from _apigen import attribute_doc, describe_value

    module, _, attr = name.rpartition(".")
    lines[:] = attribute_doc(module, attr) + describe_value(obj)


def _skip_member(app, what, name, obj, skip, options):
    """Hide scikit-learn's generated ``set_{fit,score,...}_request`` methods."""
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def setup(app):
    app.connect("autodoc-process-docstring", _document_data, priority=400)
    app.connect("autodoc-skip-member", _skip_member)
