"""One module per CLI subcommand; each imports its heavy dependencies only when it runs."""
