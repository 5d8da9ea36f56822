#!/usr/bin/env bash
# Set up casecoder on a fresh Debian machine: system packages (a CJK font for the
# pictures, Chromium for the rendering test), then the Python package and its
# dependencies from PyPI. Idempotent; no model or data is downloaded at run time.
#   bash scripts/setup.sh         # runtime
#   bash scripts/setup.sh --dev   # runtime + test tools
set -euo pipefail
cd "$(dirname "$0")/.."
extra=""
if [ "${1:-}" = "--dev" ]; then extra="[dev]"; fi

need_apt=""
fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || need_apt="$need_apt fonts-noto-cjk"
if [ -n "$extra" ] && ! command -v chromium >/dev/null 2>&1; then need_apt="$need_apt chromium"; fi
if [ -n "$need_apt" ]; then
  if [ "$(id -u)" = "0" ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $need_apt >/dev/null
fi
python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore -e ".${extra}"
python3 -c "import casecoder, jieba, spacy, sklearn, networkx" >/dev/null
