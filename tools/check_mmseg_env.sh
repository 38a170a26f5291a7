#!/usr/bin/env bash
# Install mmfss into an existing MMSegmentation 1.x environment, as an mmseg user would, and
# run a config through mmseg's own tools/train.py and tools/test.py (the copies mmseg's wheel
# ships in mmseg/.mim/tools, which `mim train mmsegmentation` runs).
#
#   bash tools/check_mmseg_env.sh [ENV_DIR]
#
# ENV_DIR (default: a temporary folder) gets a fresh virtual environment holding the stack
# only: torch, torchvision, the cached mmcv wheel (tools/install_env.sh builds it), mmengine,
# mmsegmentation, open_clip. Then `pip install -e .` (pip's build isolation, so the optional
# C++ passes of mmfss.ot are not compiled and run as torch ops) and openmim's
# `mim install -e .` install mmfss without touching the stack, and the demo config trains 2
# iterations and tests 8 episodes through mmseg's scripts. Exits non-zero on any failure.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ENV_DIR="${1:-$(mktemp -d "${TMPDIR:-/tmp}/mmseg-env.XXXXXX")}"
CACHE_DIR="${MMFSS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mmfss}"
UV="${UV:-$ROOT/.venv/bin/uv}"
log() { printf '[mmseg env check] %s\n' "$*" >&2; }

[[ -x "$UV" ]] || { log "uv not found at $UV: run make install first"; exit 1; }
WHEEL="$(compgen -G "$CACHE_DIR/mmcv-2.1.0/torch-*/mmcv-2.1.0-*.whl" | head -n 1 || true)"
[[ -n "$WHEEL" ]] || { log "no cached mmcv wheel under $CACHE_DIR: run make install first"; exit 1; }

log "an mmseg environment in $ENV_DIR (the stack only, no mmfss)"
"$UV" venv --quiet --python "$(command -v python3)" "$ENV_DIR"
PY="$ENV_DIR/bin/python"
PIP=("$UV" pip install --python "$PY" --quiet)
"${PIP[@]}" torch==2.14.1 torchvision==0.29.1 "setuptools>=77,<81" wheel pip
"${PIP[@]}" "$WHEEL"
"${PIP[@]}" mmengine==0.10.7 mmsegmentation==1.2.2 open_clip_torch==3.3.0 ftfy regex openmim
if (cd "$ENV_DIR" && "$PY" -c 'import mmfss' 2>/dev/null); then log "mmfss is importable before installing it"; exit 1; fi
FREEZE_BEFORE="$("$PY" -m pip freeze --exclude-editable | grep -v -i '^mmfss' | sort)"

log "pip install -e . (the user's command)"
(cd "$ROOT" && "$PY" -m pip install --quiet --disable-pip-version-check -e .)
log "mim install -e . (openmim)"
(cd "$ROOT" && "$ENV_DIR/bin/mim" install -e . >/dev/null)
FREEZE_AFTER="$("$PY" -m pip freeze --exclude-editable | grep -v -i '^mmfss' | sort)"
CHANGED="$(diff <(echo "$FREEZE_BEFORE") <(echo "$FREEZE_AFTER") | grep '^[<>]' | grep -v -i -E '^[<>] (prettytable|scipy|pycocotools|wcwidth)==' || true)"
if [[ -n "$CHANGED" ]]; then
  log "installing mmfss changed packages of the stack:"; echo "$CHANGED" >&2; exit 1
fi

MMSEG_TOOLS="$("$PY" -c 'import mmseg, os; print(os.path.join(os.path.dirname(mmseg.__file__), ".mim", "tools"))')"
WORK="$ENV_DIR/work"
CFG="$ROOT/configs/baseline/fss-baseline_r18-d8_1xb8-2k_shapes5i-fold0-1shot.py"
SMALL=(train_dataloader.num_workers=0 train_dataloader.persistent_workers=False
       test_dataloader.num_workers=0 test_dataloader.persistent_workers=False
       val_dataloader.num_workers=0 val_dataloader.persistent_workers=False
       test_dataloader.dataset.num_episodes=8 val_dataloader.dataset.num_episodes=8)
log "mmseg's tools/train.py: 2 iterations of $(basename "$CFG")"
(cd "$ENV_DIR" && "$PY" "$MMSEG_TOOLS/train.py" "$CFG" --work-dir "$WORK" --cfg-options \
  train_cfg.max_iters=2 train_cfg.val_interval=2 default_hooks.checkpoint.interval=2 \
  "param_scheduler.0.end=2" "${SMALL[@]}" > "$ENV_DIR/train.log" 2>&1) \
  || { tail -40 "$ENV_DIR/train.log" >&2; exit 1; }
[[ -f "$WORK/iter_2.pth" ]] || { log "no checkpoint iter_2.pth in $WORK"; exit 1; }
log "mmseg's tools/test.py on 8 episodes"
(cd "$ENV_DIR" && "$PY" "$MMSEG_TOOLS/test.py" "$CFG" "$WORK/iter_2.pth" --work-dir "$WORK/test" \
  --cfg-options "${SMALL[@]}" > "$ENV_DIR/test.log" 2>&1) || { tail -40 "$ENV_DIR/test.log" >&2; exit 1; }
grep -q "mIoU" "$ENV_DIR/test.log" || { log "no mIoU in mmseg's test output"; exit 1; }
EXT="$(cd "$ENV_DIR" && "$PY" -c 'from mmfss.ot import kernel_passes; print(kernel_passes.extension_available())')"
log "ok: mmfss installed into an mmseg environment without changing its stack (C++ passes built: $EXT); $(grep -o 'mIoU: [0-9.]*' "$ENV_DIR/test.log" | tail -1) after 2 iterations"
