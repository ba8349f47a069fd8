"""`engine: procrastinate`: the scheduler defers one crawl job per due source and workers on any number of
machines run them, through procrastinate's job queue in the PostgreSQL database rolewatch already uses."""
