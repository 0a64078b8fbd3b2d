#!/usr/bin/env bash
# Sourced by run-app and run-tests: installs what a fresh Debian/Ubuntu machine lacks, then the
# project into .venv. Each step checks first, so a second run costs about a second.
# usage: source scripts/setup.sh app|test
set -euo pipefail
MGR_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
profile="${1:-app}"

# System libraries: PortAudio for sounddevice, the X/EGL bits Qt's xcb and offscreen plugins load.
sys_pkgs=(libportaudio2 libegl1 libgl1 libglib2.0-0 libfontconfig1 libdbus-1-3 libxkbcommon0
          libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0
          libxcb-xinerama0 libxcb-randr0 libxcb-render-util0 libxcb-image0)
# Tests also need a real capture device (PulseAudio null sink) and a real X server (Xvfb).
[ "$profile" = test ] && sys_pkgs+=(pulseaudio pulseaudio-utils xvfb x11-utils ffmpeg lame asc-music drascula-music)
if command -v dpkg-query >/dev/null 2>&1; then
  missing=()
  for p in "${sys_pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "setup: installing system packages: ${missing[*]}" >&2
      apt-get update -qq >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
    else
      echo "setup: please install: sudo apt-get install ${missing[*]}" >&2
    fi
  fi
fi

# Python environment. torch and torchvision come from PyPI together (the CUDA build of torch is
# the one PyPI's torchvision is built against on Linux; it runs on the CPU too).
PY="${MGR_PYTHON:-python3}"
if [ ! -x "$MGR_ROOT/.venv/bin/python" ]; then
  echo "setup: creating .venv with $($PY --version)" >&2
  "$PY" -m venv "$MGR_ROOT/.venv"
  "$MGR_ROOT/.venv/bin/python" -m pip install -q --upgrade pip >&2
fi
stamp="$MGR_ROOT/.venv/.setup-stamp"
hash="$(sha256sum < "$MGR_ROOT/pyproject.toml" | cut -c1-16)"
want="$hash-$profile"
have="$(cat "$stamp" 2>/dev/null || true)"
# The test setup (the dev extra) holds everything the app needs: after run-tests, run-app
# has nothing to install.
if [ "$have" != "$want" ] && ! { [ "$profile" = app ] && [ "$have" = "$hash-test" ]; }; then
  extras=""; [ "$profile" = test ] && extras="[dev]"
  echo "setup: installing mgr-desktop$extras and its dependencies into .venv (first run: several GB)" >&2
  "$MGR_ROOT/.venv/bin/python" -m pip install -q -e "$MGR_ROOT$extras" >&2
  echo "$want" > "$stamp"
fi
export PATH="$MGR_ROOT/.venv/bin:$PATH"
