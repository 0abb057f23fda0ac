"""mkdocs hooks (mkdocs.yml ``hooks:``): the built site renders its math offline.

MathJax 3 comes from the django-static-mathjax package, which the ``docs`` extra
installs: it is MathJax's own files (the es5 build and its licence) and needs no
Django.  After each build (``mkdocs build`` and every rebuild of ``mkdocs serve``)
the TeX-to-HTML component, with its fonts, the TeX extensions it loads on demand
and its menu's modules, is copied into ``site/assets/mathjax/``, beside a
configuration for pymdownx.arithmatex's generic mode (math inside
``<span class="arithmatex">``, delimited by ``\\( \\)`` and ``\\[ \\]``).
mkdocs.yml's ``extra_javascript`` loads both from there, so no page fetches a
script, a stylesheet or a font from the network.
"""

from __future__ import annotations

import importlib.metadata
import shutil
from pathlib import Path

from mkdocs.exceptions import PluginError

DISTRIBUTION = "django-static-mathjax"
TARGET = "assets/mathjax"  # under site_dir; mkdocs.yml's extra_javascript names these files
COMPONENT = "tex-chtml.js"  # TeX input, HTML (CHTML) output, the menu
# what the component loads from its own folder when a page or the reader asks for it
ON_DEMAND = ["output/chtml", "input/tex", "ui", "a11y", "sre"]
CONFIG = """\
window.MathJax = {
  tex: {
    inlineMath: [["\\\\(", "\\\\)"]],
    displayMath: [["\\\\[", "\\\\]"]],
    processEscapes: true,
    processEnvironments: true,
  },
  options: {ignoreHtmlClass: ".*|", processHtmlClass: "arithmatex"},
};
"""


def mathjax_root() -> Path:
    """The folder of the installed MathJax es5 build, which holds ``tex-chtml.js``."""
    try:
        dist = importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError as err:
        raise PluginError(
            f"the docs render math with MathJax from {DISTRIBUTION}, which is not installed: "
            "pip install -e '.[docs]'"
        ) from err
    for file in dist.files or ():
        if file.parts[-2:] == ("es5", COMPONENT):
            return Path(dist.locate_file(file)).parent
    raise PluginError(f"{DISTRIBUTION} {dist.version} has no es5/{COMPONENT}")


def on_post_build(config, **kwargs) -> None:
    """Copy MathJax and its configuration into ``site_dir/assets/mathjax``."""
    root = mathjax_root()
    target = Path(config["site_dir"]) / TARGET
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(root / COMPONENT, target / COMPONENT)
    for part in ON_DEMAND:
        shutil.copytree(root / part, target / part, dirs_exist_ok=True)
    licence = root.parent / "LICENSE"  # MathJax is Apache-2.0: its licence travels with it
    if licence.is_file():
        shutil.copy2(licence, target / "LICENSE")
    (target / "config.js").write_text(CONFIG)
