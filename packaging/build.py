"""Build mgr-desktop for the platform this runs on, into dist/.

    python packaging/build.py [--compression fast|small] [--no-installer]

Linux: dist/mgr-desktop/ (the app), a .deb (app in /opt/mgr-desktop, /usr/bin/mgr-desktop,
a .desktop file and icon) and a .tar.gz. Windows: the app and an Inno Setup installer (needs
iscc on PATH). macOS: mgr-desktop.app and a .dmg (packaging/macos/make_dmg.sh).
Prints what it built, with sizes and the time it took. Run from a fresh clone with any
python3, it first sets up .venv (as scripts/run-app does) with PyInstaller, then builds there.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "dist"
BUILD = ROOT / "build"
VERSION = re.search(
    r'__version__ = "([^"]+)"', (ROOT / "mgr_desktop/__init__.py").read_text()
).group(1)  # type: ignore[union-attr]

DEB_DEPENDS = (
    "libc6, libegl1, libgl1, libfontconfig1, libfreetype6, libdbus-1-3, "
    "libxkbcommon0, libxkbcommon-x11-0, libxcb-cursor0, libxcb-icccm4, "
    "libxcb-keysyms1, libxcb-shape0, libxcb-xinerama0, libxcb-randr0, "
    "libxcb-render-util0, libxcb-image0, libasound2"
)


def run(cmd: list[str], **kw: object) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, **kw)  # type: ignore[arg-type]


def human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n:.0f} B"
        n /= 1024
    return ""


def tree_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def pyinstaller() -> Path:
    run(
        [
            sys.executable,
            "-m",
            "PyInstaller",
            str(ROOT / "packaging/mgr-desktop.spec"),
            "--noconfirm",
            "--clean",
            "--distpath",
            str(DIST),
            "--workpath",
            str(BUILD / "pyi"),
            "--log-level",
            "WARN",
        ]
    )
    return DIST / ("mgr-desktop.app" if sys.platform == "darwin" else "mgr-desktop")


def linux_packages(app: Path, level: int) -> list[Path]:
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)
    stage = BUILD / "deb" / f"mgr-desktop_{VERSION}_{arch}"
    shutil.rmtree(stage, ignore_errors=True)
    (stage / "DEBIAN").mkdir(parents=True)
    opt = stage / "opt" / "mgr-desktop"
    opt.parent.mkdir(parents=True)
    # Hard links: the bundle is gigabytes; copying it again would double the build time.
    run(["cp", "-al", str(app), str(opt)])
    (stage / "usr/bin").mkdir(parents=True)
    (stage / "usr/bin/mgr-desktop").symlink_to("/opt/mgr-desktop/mgr-desktop")
    apps = stage / "usr/share/applications"
    apps.mkdir(parents=True)
    shutil.copy(ROOT / "packaging/linux/mgr-desktop.desktop", apps)
    icons = stage / "usr/share/icons/hicolor/scalable/apps"
    icons.mkdir(parents=True)
    shutil.copy(ROOT / "mgr_desktop/data/icons/mgr-desktop.svg", icons)
    installed_kb = tree_size(stage) // 1024
    (stage / "DEBIAN/control").write_text(
        f"Package: mgr-desktop\nVersion: {VERSION}\nArchitecture: {arch}\n"
        f"Maintainer: mgr-desktop developers <mgr-desktop@users.noreply.github.com>\n"
        f"Installed-Size: {installed_kb}\nDepends: {DEB_DEPENDS}\nSection: sound\n"
        "Priority: optional\nHomepage: https://github.com/mgr-desktop/mgr-desktop\n"
        "Description: music genre recognition on the desktop\n"
        " Drop songs on the window, listen to the microphone, or train a genre model\n"
        " on your own GTZAN copy. PortAudio and PyTorch are bundled.\n"
    )
    deb = DIST / f"mgr-desktop_{VERSION}_{arch}.deb"
    run(["dpkg-deb", "--root-owner-group", "-Zgzip", f"-z{level}", "--build", str(stage), str(deb)])
    tgz = DIST / f"mgr-desktop-{VERSION}-linux-{os.uname().machine}.tar.gz"
    with tarfile.open(tgz, "w:gz", compresslevel=level) as tar:
        tar.add(app, arcname=f"mgr-desktop-{VERSION}")
    return [deb, tgz]


def windows_installer(app: Path) -> list[Path]:
    iscc = shutil.which("iscc") or shutil.which("ISCC")
    if iscc is None:
        print("Inno Setup (iscc) not found: skipping the installer; the app is in", app)
        return []
    run(
        [
            iscc,
            f"/DAppVersion={VERSION}",
            f"/DSourceDir={app}",
            f"/O{DIST}",
            str(ROOT / "packaging/windows/mgr-desktop.iss"),
        ]
    )
    return list(DIST.glob("mgr-desktop-*-setup.exe"))


def macos_icns() -> None:
    """packaging/macos/mgr-desktop.png -> .icns, with the tools every Mac has."""
    png = ROOT / "packaging/macos/mgr-desktop.png"
    iconset = BUILD / "mgr-desktop.iconset"
    iconset.mkdir(parents=True, exist_ok=True)
    for size in (16, 32, 128, 256, 512):
        for scale in (1, 2):
            name = f"icon_{size}x{size}{'@2x' if scale == 2 else ''}.png"
            run(
                [
                    "sips",
                    "-z",
                    str(size * scale),
                    str(size * scale),
                    str(png),
                    "--out",
                    str(iconset / name),
                ],
                stdout=subprocess.DEVNULL,
            )
    run(
        [
            "iconutil",
            "-c",
            "icns",
            str(iconset),
            "-o",
            str(ROOT / "packaging/macos/mgr-desktop.icns"),
        ]
    )


def macos_dmg(app: Path) -> list[Path]:
    dmg = DIST / f"mgr-desktop-{VERSION}.dmg"
    run(["bash", str(ROOT / "packaging/macos/make_dmg.sh"), str(app), str(dmg)])
    return [dmg]


def ensure_build_environment() -> None:
    """From a fresh clone with any python3: set up .venv as scripts/run-app does, add
    PyInstaller, and run this script again inside it."""
    try:
        import PyInstaller  # noqa: F401
        import torch  # noqa: F401

        import mgr_desktop  # noqa: F401

        return
    except ImportError:
        pass
    venv_python = ROOT / ".venv" / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    if Path(sys.executable) == venv_python and os.environ.get("MGR_BUILD_REEXEC"):
        raise SystemExit("the build environment in .venv is incomplete; see messages above")
    if os.name == "nt":
        run([sys.executable, "-m", "venv", str(ROOT / ".venv")])
        run([str(venv_python), "-m", "pip", "install", "-q", "-e", f"{ROOT}[packaging]"])
    else:
        run(["bash", "-c", f'source "{ROOT}/scripts/setup.sh" app'])
        run([str(venv_python), "-m", "pip", "install", "-q", "-e", f"{ROOT}[packaging]"])
    os.environ["MGR_BUILD_REEXEC"] = "1"
    os.execv(str(venv_python), [str(venv_python), __file__, *sys.argv[1:]])


def main() -> None:
    ensure_build_environment()
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--compression",
        choices=("fast", "small"),
        default="fast",
        help="fast (gzip -1, the default for local builds) or small (gzip -9)",
    )
    ap.add_argument("--no-installer", action="store_true", help="only the app folder")
    args = ap.parse_args()
    level = 1 if args.compression == "fast" else 9
    t0 = time.perf_counter()
    if sys.platform == "darwin":
        macos_icns()
    app = pyinstaller()
    t_app = time.perf_counter() - t0
    outputs: list[Path] = []
    if not args.no_installer:
        if sys.platform.startswith("linux"):
            outputs = linux_packages(app, level)
        elif sys.platform == "win32":
            outputs = windows_installer(app)
        elif sys.platform == "darwin":
            outputs = macos_dmg(app)
    total = time.perf_counter() - t0
    print(f"\nbuilt in {total / 60:.1f} min (PyInstaller {t_app / 60:.1f} min)")
    print(f"  {app.relative_to(ROOT)}/  {human(tree_size(app))}")
    for out in outputs:
        print(f"  {out.relative_to(ROOT)}  {human(out.stat().st_size)}")


if __name__ == "__main__":
    main()
