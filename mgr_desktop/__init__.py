"""mgr-desktop: music genre recognition on the desktop."""

__version__ = "0.1.0"
