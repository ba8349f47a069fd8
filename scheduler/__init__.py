"""Stage 0: decide when each source is crawled (APScheduler); the daemon lands with the scheduling issue."""
