"""SQLite's WAL checkpointed in a thread of its own, not inside the writer's commits.

In WAL mode a commit appends pages to the log; a checkpoint copies them back into the database
file and syncs it. SQLite runs one inside whichever commit takes the log past 1,000 pages, so
a crawl's recording stopped for it (a sixth of a churned re-crawl's recording time). Here a
thread checkpoints shortly after commits instead, while the writer goes on: `sqlite3` lets go
of the GIL while SQLite works. It is the same PASSIVE checkpoint SQLite's own would be, and
sooner under a light load, so a commit is on disk no later than before. SQLite's own stays as
a backstop (`BACKSTOP_BYTES`), should this thread fall behind.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import urllib.parse

logger = logging.getLogger(__name__)

#: SQLite's own checkpoint, kept for a log this thread lets grow past it. SQLite counts it in
#: pages (`backstop_pages`), whose size a database fixes when it is created.
BACKSTOP_BYTES = 40 * 2**20
#: After a commit, how long the thread lets more gather before it checkpoints them all at once.
GATHER_S = 0.2
#: The thread ends after this long without a commit, and starts again at the next.
IDLE_S = 10.0
#: How long disposing of the engine waits for a checkpoint under way.
STOP_WAIT_S = 5.0


def backstop_pages(page_size: int) -> int:
    """`BACKSTOP_BYTES` in pages of `page_size` bytes, as `PRAGMA wal_autocheckpoint` takes it."""
    return max(1, BACKSTOP_BYTES // page_size)


class Checkpointer:
    """Checkpoints the SQLite database at `path` after commits, in a daemon thread.

    The database is opened for each checkpoint and closed after it, and never created: between
    checkpoints no file is held open, and a file deleted meanwhile is not made again.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.checkpoints = 0
        self._uri = f"file:{urllib.parse.quote(path)}?mode=rw"
        self._committed = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def committed(self) -> None:
        """A transaction was committed on the database: checkpoint soon (never waits)."""
        self._committed.set()
        if self._thread is None or not self._thread.is_alive():  # not alive: a forked child's copy
            with self._lock:
                if self._thread is None or not self._thread.is_alive():
                    self._stopping = threading.Event()
                    self._thread = threading.Thread(
                        target=self._run, args=(self._stopping,), name="sqlite-checkpoint", daemon=True
                    )
                    self._thread.start()

    def stop(self) -> None:
        """End the thread (the engine is disposed of), once a checkpoint under way is done."""
        with self._lock:
            thread, self._thread = self._thread, None
            self._stopping.set()
            self._committed.set()  # wakes a thread waiting for commits; it sees it is stopping
        if thread is not None:
            thread.join(STOP_WAIT_S)

    def _run(self, stopping: threading.Event) -> None:
        while True:
            if not self._committed.wait(IDLE_S) and self._retire(stopping):
                return
            if stopping.is_set() or stopping.wait(GATHER_S):  # a burst: one checkpoint for all
                return
            self._committed.clear()
            self._checkpoint()

    def _retire(self, stopping: threading.Event) -> bool:
        """No commit for IDLE_S: end, unless one came just now (it would find this thread alive)."""
        with self._lock:
            if self._committed.is_set():
                return False
            if self._stopping is stopping:
                self._thread = None
            return True

    def _checkpoint(self) -> None:
        try:
            connection = sqlite3.connect(self._uri, uri=True, timeout=0, isolation_level=None)
        except sqlite3.Error as error:  # gone: a later commit brings another try
            logger.debug("could not open %s to checkpoint it: %s", self.path, error)
            return
        try:
            connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            self.checkpoints += 1
        except sqlite3.Error as error:  # busy: likewise
            logger.debug("checkpointing %s: %s", self.path, error)
        finally:
            connection.close()
