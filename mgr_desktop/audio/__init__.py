"""Audio sources: file decoding, capture, playback, and the ring buffer they share. No Qt."""
