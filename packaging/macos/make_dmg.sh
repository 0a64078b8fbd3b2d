#!/usr/bin/env bash
# Make a drag-to-Applications disk image from the .app PyInstaller built.
# usage: make_dmg.sh dist/mgr-desktop.app dist/mgr-desktop-X.Y.Z.dmg   (macOS only: hdiutil)
set -euo pipefail
app="$1"; dmg="$2"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
cp -R "$app" "$stage/"
ln -s /Applications "$stage/Applications"
rm -f "$dmg"
# UDZO (zlib) is fast enough for local builds; use -format ULMO for smaller release images.
hdiutil create -volname "mgr-desktop" -srcfolder "$stage" -ov -format UDZO "$dmg"
