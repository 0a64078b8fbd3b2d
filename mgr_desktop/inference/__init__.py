"""Waveform -> per-window probabilities -> track verdict. The engine has no Qt."""
