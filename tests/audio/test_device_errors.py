"""PortAudio's errors read as sentences that say what is missing."""

from __future__ import annotations

from mgr_desktop.audio.devices import explain


def test_no_device_at_all_says_so_instead_of_a_raw_error() -> None:
    text = explain(RuntimeError("Error querying device -1"), "output")
    assert text.startswith("no audio output device available (the default output device)")
    assert "no sound card or audio server" in text and "querying device -1" in text


def test_other_failures_name_the_device_and_the_reason() -> None:
    text = explain(RuntimeError("Device unavailable [PaErrorCode -9985]"), "input", 3)
    assert text == "cannot open input device 3: Device unavailable [PaErrorCode -9985]"
    assert explain(RuntimeError("No Default Input Device"), "input").startswith("no audio input")
