"""Django's SQLite backend, with the database file readable by its owner
only: made 0600 (in a 0700 directory if that is missing too) before SQLite
would make it readable by everyone. SQLite gives its -wal and -shm files the
database file's permissions."""

import contextlib
import os
from pathlib import Path

from django.db.backends.sqlite3 import base


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params):
        name = str(conn_params["database"])
        if not name.startswith(("file:", ":memory:")):
            path = Path(name)
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            with contextlib.suppress(FileExistsError):
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        return super().get_new_connection(conn_params)
