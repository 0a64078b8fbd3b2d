"""The Qt window. Everything below this package works without Qt."""
