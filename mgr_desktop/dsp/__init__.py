"""Signal processing: the one log-mel implementation. No Qt."""
