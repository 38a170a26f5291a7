#!/usr/bin/env bash
# Build the pinned mmfss stack into a virtual environment (default: .venv at the repo root).
#
#   bash tools/install_env.sh [--with-tests | --with-web]
#
# --with-web adds the web page's extra (setup.py [web]: Gradio); --with-tests adds the test
# tools, the web extra (the page's tests) and Selenium, and, when run as root on Debian,
# the chromium and chromium-driver packages the browser test drives.
#
# Environment variables:
#   MMFSS_VENV        target virtual environment (default: <repo>/.venv)
#   MMFSS_CACHE_DIR   where the mmcv wheel built from source is cached
#                     (default: ${XDG_CACHE_HOME:-~/.cache}/mmfss). The wheel lives in a folder
#                     keyed by the torch version and Python tag, so a wheel built against another
#                     torch is never installed.
#   MMFSS_PYTHON      interpreter used to create the venv (default: python3)
#   MMFSS_WITH_OPS    0: do not compile mmfss's C++ extension (mmfss.ot then runs the same
#                     passes as torch ops, slower on CPU; tests/test_ot/test_kernel_passes.py
#                     fails); default 1
#
# The first run downloads torch (about 5.6 GB with its CUDA libraries) and compiles mmcv 2.1.0
# with its ops (15-30 minutes on 2 cores). Later runs, also from fresh clones, reuse uv's
# package cache and the cached mmcv wheel and take seconds.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${MMFSS_VENV:-$ROOT/.venv}"
CACHE_DIR="${MMFSS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mmfss}"
PYTHON="${MMFSS_PYTHON:-python3}"
WITH_TESTS=0
WITH_WEB=0
[[ "${1:-}" == "--with-tests" ]] && WITH_TESTS=1 && WITH_WEB=1
[[ "${1:-}" == "--with-web" ]] && WITH_WEB=1

TORCH_PIN="torch==2.14.1"
TORCHVISION_PIN="torchvision==0.29.1"
MMCV_VERSION="2.1.0"
RUNTIME_PINS=(
  "mmengine==0.10.7"
  "mmsegmentation==1.2.2"
  "open_clip_torch==3.3.0"
  "numpy>=1.24"
  "ftfy"
  "regex"
  "scipy"
  "pycocotools>=2.0"
)
TEST_PINS=("pytest>=8" "pytest-timeout" "hypothesis>=6" "POT==0.9.7.post1" "nbformat>=5.9" "nbclient>=0.10" "ipykernel>=6.29" "selenium==4.51.0")  # = setup.py extras_require["tests"]
# OpenMMLab's mim for `mim search mmfss` (tests/test_metafiles.py), without its own requirements:
# openmim 0.3.9 pulls opendatalab/openxlab, which pin setuptools 60 and requests 2.28
MIM_PINS=("openmim==0.3.9" "model-index==0.1.11" "markdown" "tabulate" "colorama" "ordered-set" "requests" "charset-normalizer")
WEB_PINS=("gradio==6.31.0")  # = setup.py extras_require["web"] (moves Pillow 13 -> 12)
BUILD_PINS=("setuptools>=77,<81" "wheel" "ninja" "packaging")

log() { printf '[mmfss install] %s\n' "$*" >&2; }

if [[ ! -x "$VENV/bin/python" ]]; then
  log "creating virtual environment $VENV"
  "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
if [[ ! -x "$VENV/bin/uv" ]]; then
  "$PY" -m pip install --quiet --disable-pip-version-check uv
fi
UV=("$VENV/bin/uv" pip install --python "$PY" --quiet)

log "installing torch, torchvision and build tools"
"${UV[@]}" "$TORCH_PIN" "$TORCHVISION_PIN" "${BUILD_PINS[@]}" pip

TORCH_VERSION="$("$PY" -c 'import torch; print(torch.__version__)')"
PY_TAG="$("$PY" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')"
WHEEL_DIR="$CACHE_DIR/mmcv-$MMCV_VERSION/torch-$TORCH_VERSION-$PY_TAG"

find_wheel() { compgen -G "$WHEEL_DIR/mmcv-$MMCV_VERSION-*.whl" | head -n 1 || true; }

WHEEL="$(find_wheel)"
if [[ -z "$WHEEL" ]]; then
  log "no cached mmcv $MMCV_VERSION wheel for torch $TORCH_VERSION ($PY_TAG): building from source"
  log "this compiles mmcv's ops and takes 15-30 minutes on 2 cores"
  BUILD_DIR="$(mktemp -d "${TMPDIR:-/tmp}/mmfss-mmcv-build.XXXXXX")"
  trap 'rm -rf "$BUILD_DIR"' EXIT
  "$PY" -m pip download --quiet --disable-pip-version-check --no-deps --no-binary :all: \
    "mmcv==$MMCV_VERSION" -d "$BUILD_DIR"
  tar -xzf "$BUILD_DIR/mmcv-$MMCV_VERSION.tar.gz" -C "$BUILD_DIR"
  SRC="$BUILD_DIR/mmcv-$MMCV_VERSION"
  # torch >= 2.10 headers need C++20; mmcv 2.1.0 hard-codes -std=c++17.
  grep -q -- '-std=c++17' "$SRC/setup.py" || { log "unexpected mmcv setup.py: no -std=c++17"; exit 1; }
  sed -i 's/-std=c++17/-std=c++20/g' "$SRC/setup.py"
  (cd "$SRC" && MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
     "$PY" -m pip wheel --disable-pip-version-check --no-build-isolation --no-deps . \
     -w "$BUILD_DIR/dist")
  BUILT="$(compgen -G "$BUILD_DIR/dist/mmcv-$MMCV_VERSION-*.whl" | head -n 1)"
  mkdir -p "$WHEEL_DIR"
  # Atomic publish: copy under a temporary name inside the target folder, then rename.
  cp "$BUILT" "$WHEEL_DIR/.partial.$(basename "$BUILT")"
  echo "$TORCH_VERSION" > "$WHEEL_DIR/torch_version.txt"
  mv "$WHEEL_DIR/.partial.$(basename "$BUILT")" "$WHEEL_DIR/$(basename "$BUILT")"
  WHEEL="$(find_wheel)"
fi
if [[ "$(cat "$WHEEL_DIR/torch_version.txt" 2>/dev/null)" != "$TORCH_VERSION" ]]; then
  log "cached wheel folder $WHEEL_DIR does not record torch $TORCH_VERSION; delete it and rerun"
  exit 1
fi
log "installing $(basename "$WHEEL") (built against torch $TORCH_VERSION)"
"${UV[@]}" --reinstall-package mmcv "$WHEEL"

log "installing mmengine, mmsegmentation, open_clip and mmfss"
"${UV[@]}" "$TORCH_PIN" "$TORCHVISION_PIN" "${RUNTIME_PINS[@]}"
# The editable install compiles mmfss's C++ extension (mmfss/ot/csrc, about 40 s) in place.
# uv only watches setup.py, so rebuild explicitly when the library is missing or older than
# its source.
REBUILD=()
EXT_LIB="$(compgen -G "$ROOT/mmfss/ot/_kernel_passes*.so" | head -n 1 || true)"
if [[ -z "$EXT_LIB" || "$ROOT/mmfss/ot/csrc/kernel_passes.cpp" -nt "$EXT_LIB" \
      || "$ROOT/setup.py" -nt "$EXT_LIB" ]]; then
  REBUILD=(--reinstall-package mmfss)
fi
"${UV[@]}" --no-build-isolation --no-deps "${REBUILD[@]}" -e "$ROOT"
if [[ "$WITH_WEB" == 1 ]]; then
  log "installing the web page's extra (${WEB_PINS[*]})"
  "${UV[@]}" "${WEB_PINS[@]}"
fi
if [[ "$WITH_TESTS" == 1 ]]; then
  log "installing test dependencies"
  "${UV[@]}" "${TEST_PINS[@]}"
  "${UV[@]}" --no-deps "${MIM_PINS[@]}"
  if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
      log "installing Debian's chromium and chromium-driver (the web page's browser test)"
      export DEBIAN_FRONTEND=noninteractive
      apt-get install -y -q chromium chromium-driver >/dev/null \
        || { apt-get update -q >/dev/null && apt-get install -y -q chromium chromium-driver >/dev/null; }
    else
      log "the browser test needs chromium and chromium-driver: sudo apt-get install chromium chromium-driver"
    fi
  fi
fi

MMFSS_WITH_OPS="${MMFSS_WITH_OPS:-1}" "$PY" - <<'PY'
import os
import mmcv, mmcv.ops, mmengine, mmseg, torch, torchvision, open_clip  # noqa: F401
from mmcv.ops import nms  # noqa: F401  compiled ops present
from mmfss.ot import kernel_passes
if os.environ['MMFSS_WITH_OPS'] != '0':
    assert kernel_passes.extension_available(), 'mmfss.ot._kernel_passes was not built'
print(f'[mmfss install] ok: torch {torch.__version__}, torchvision {torchvision.__version__}, '
      f'mmcv {mmcv.__version__}, mmengine {mmengine.__version__}, mmseg {mmseg.__version__}, '
      f'open_clip {open_clip.__version__}')
PY
