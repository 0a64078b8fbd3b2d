#!/usr/bin/env bash
# On-demand check of the Linux build (not part of every CI run: it takes ~15 minutes):
# build, then run the frozen app's --self-test in a bare environment (no PATH, no Python),
# the frozen `classify` on a real file, and the app unpacked from the .deb.
# usage: packaging/check_frozen.sh [AUDIO_FILE]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
audio="${1:-${MGR_TEST_GTZAN_MINI:-../shared/gtzan-mini}/genres_original/jazz/jazz.00000.wav}"
python3 packaging/build.py
app=dist/mgr-desktop/mgr-desktop
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
bare() { env -i HOME="$tmp/home" QT_QPA_PLATFORM=offscreen "$@"; }

echo "== frozen self-test, bare environment"
bare "$app" --self-test | tee "$tmp/selftest.txt"
grep -q "/_internal/portaudio/libportaudio" "$tmp/selftest.txt" \
  || { echo "PortAudio was not loaded from the bundle"; exit 1; }

echo "== frozen classify on $audio"
.venv/bin/python -c "
from pathlib import Path
from tests.helpers import make_model_file
make_model_file(Path('$tmp/model.safetensors'))"
bare "$app" classify --model "$tmp/model.safetensors" --format json "$(realpath "$audio")"

echo "== the app unpacked from the .deb"
dpkg -x dist/mgr-desktop_*.deb "$tmp/root"
test -L "$tmp/root/usr/bin/mgr-desktop"
test -f "$tmp/root/usr/share/applications/mgr-desktop.desktop"
bare "$tmp/root/opt/mgr-desktop/mgr-desktop" --self-test
echo "all frozen checks passed"
