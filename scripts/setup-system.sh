#!/usr/bin/env bash
# System packages the tests use: pdflatex (LaTeX output must compile), TikZ, Graphviz (drawings),
# Chromium (tests/test_view.py loads the interactive page in it, headless, through Playwright).
# Installs only what is missing; needs apt (Debian/Ubuntu) and root when something is missing.
set -euo pipefail
missing=()
command -v pdflatex >/dev/null 2>&1 || missing+=(texlive-latex-base)
command -v dot >/dev/null 2>&1 || missing+=(graphviz)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
# TikZ (pgf) for the TikZ export of drawings
if ! command -v kpsewhich >/dev/null 2>&1 || [ -z "$(kpsewhich tikz.sty 2>/dev/null)" ]; then
  missing+=(texlive-pictures)
fi
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-system: please install ${missing[*]} (no apt-get here)" >&2
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "setup-system: installing ${missing[*]}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
