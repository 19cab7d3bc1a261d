#!/usr/bin/env bash
# Packaging check: build the wheel, install it into a fresh virtual environment (no access to this checkout), and
# run `pesto` on a WAV file from another folder, writing CSV and PNG. Fails if the wheel lacks its model, its licence
# or the PNG renderer plug-in, or if the installed package reads anything from the source tree.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

python3 -m build --wheel --outdir "$WORK/dist" . >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; exit 1; }
rm -rf build
WHEEL=$(ls "$WORK"/dist/*.whl)
python3 -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install -q --disable-pip-version-check torch==2.13.0 "$WHEEL[app]" >"$WORK/pip.log" 2>&1 \
  || { cat "$WORK/pip.log"; exit 1; }

mkdir "$WORK/elsewhere"
cp resources/example_melody.wav "$WORK/elsewhere/take.wav"
cd "$WORK/elsewhere"
export QT_QPA_PLATFORM=offscreen
"$WORK/venv/bin/pesto" take.wav -e csv png -q
head -c 26 take.f0.csv | grep -q "^time,frequency,confidence" || { echo "wheel: bad CSV"; exit 1; }
python3 -c "import sys; d = open('take.f0.png', 'rb').read(8); sys.exit(d != b'\x89PNG\r\n\x1a\n')" \
  || { echo "wheel: bad PNG"; exit 1; }
# the same numbers as the source tree's engine
cmp take.f0.csv <(cd "$ROOT" && python3 -m pesto_core "$WORK/elsewhere/take.wav" -o "$WORK/src" -q \
                  && cat "$WORK/src/take.f0.csv") || { echo "wheel: CSV differs from the source tree's"; exit 1; }
"$WORK/venv/bin/python" - <<'PY'
import pesto_core.bundled as b
assert "site-packages" in str(b.MODELS_DIR), b.MODELS_DIR
assert "mir-1k_g7" in b.bundled_models(), b.bundled_models()
assert (b.MODELS_DIR / "LICENSE-pesto-pitch.md").is_file()
print("wheel: ok,", b.MODELS_DIR)
PY
