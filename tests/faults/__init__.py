"""Process-level fault tests: crashes, a restarted database, several servers and workers."""
