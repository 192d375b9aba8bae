"""mysqlclient (MySQLdb, on MariaDB Connector/C): the bundled library is also a
`mysql_clear_password` client plugin, which makes a fresh token inside every login (pools
included) and sends it only to a server it verified. This module builds the plugin directory
libmariadb needs, at run time, in the user's cache directory (wheels cannot carry symbolic
links): `mysql_clear_password.so` linking this package's library, and links to the system's
other client plugins (a client pointed at the directory looks for all of its plugins there).

    import iam_db_auth.mysqlclient
    conn = iam_db_auth.mysqlclient.connect("mydb.abc123.us-east-1.rds.amazonaws.com", 3306, "app", database="app")

`connect` passes ssl={"ca": the RDS CA} and an option file naming the directory; the plugin
checks the server's certificate and name itself. The token settings come from the environment,
read once per process by the plugin: IAM_DB_AUTH_PROFILE, IAM_DB_AUTH_SIGNING_HOST/_PORT,
AWS_REGION (docs/mysql-plugin.md). Unmodified programs: export MARIADB_PLUGIN_DIR to
`plugin_dir()` (`python -m iam_db_auth.mysqlclient` prints it).
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Optional

from ._native import ca_file, library_path

PLUGIN_NAME = "mysql_clear_password.so"
# Where distributions put libmariadb's client plugins, after what mariadb_config and pkg-config
# say (the order of `iam-db-auth mysql-plugin install`).
USUAL_SYSTEM_DIRS = (
    "/usr/lib/x86_64-linux-gnu/libmariadb3/plugin",
    "/usr/lib/aarch64-linux-gnu/libmariadb3/plugin",
    "/usr/lib64/mariadb/plugin",
    "/usr/lib/mariadb/plugin",
    "/usr/local/lib/mariadb/plugin",
)


def _ask(argv: list[str]) -> Optional[str]:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return out or None


@functools.lru_cache(maxsize=1)
def system_plugin_dir() -> Optional[Path]:
    """The system libmariadb's client plugin directory: IAM_DB_AUTH_SYSTEM_PLUGIN_DIR,
    `mariadb_config --plugindir`, `pkg-config --variable=plugindir libmariadb`, the usual
    places; None when there is none (the directory then holds our plugin alone)."""
    candidates = [
        os.environ.get("IAM_DB_AUTH_SYSTEM_PLUGIN_DIR"),
        shutil.which("mariadb_config") and _ask(["mariadb_config", "--plugindir"]),
        shutil.which("pkg-config") and _ask(["pkg-config", "--variable=plugindir", "libmariadb"]),
        *USUAL_SYSTEM_DIRS,
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "iam-db-auth" / "mariadb-plugins"


def _private_dir(path: Path) -> None:
    """Creates `path` (mode 0700) or checks that it is ours and not writable by others: every
    library in a plugin directory is loaded into the client."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o022:
        raise PermissionError(f"{path} is not a directory of this user's that only it can write; remove it")


def plugin_dir() -> Path:
    """The plugin directory for this package's library and the system's plugins (built on the
    first call, reused while the library and the system's plugins stay the same)."""
    library = Path(library_path())
    system = system_plugin_dir()
    others = sorted(p.name for p in system.glob("*.so") if p.name != PLUGIN_NAME) if system else []
    key = hashlib.sha256(
        "\0".join([str(library), str(library.stat().st_mtime_ns), str(system), *others]).encode()
    ).hexdigest()[:16]
    root = _cache_root()
    _private_dir(root)
    final = root / key
    if (final / "client.cnf").is_file():
        return final
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=root))
    try:
        os.symlink(library, staging / PLUGIN_NAME)
        for name in others:
            os.symlink(system / name, staging / name)  # type: ignore[operator]
        # Written last: its presence says the directory is complete.
        (staging / "client.cnf").write_text(f"[client]\nplugin-dir={final}\n")
        try:
            os.rename(staging, final)
        except OSError:
            if not (final / "client.cnf").is_file():  # not a concurrent builder's finished copy
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


def option_file() -> str:
    """An option file naming the plugin directory, for mysqlclient's `read_default_file=`."""
    return str(plugin_dir() / "client.cnf")


def environ() -> dict[str, str]:
    """The environment that points every libmariadb program at the plugin directory."""
    return {"MARIADB_PLUGIN_DIR": str(plugin_dir())}


def connect(host: str, port: int = 3306, user: str = "", *, cafile: Optional[str] = None, **kwargs: Any) -> Any:
    """MySQLdb.connect through the plugin: no password (the plugin makes the token at login),
    ssl={"ca": the RDS CA, or `cafile`} unless `ssl` is given, and the option file naming the
    plugin directory unless `read_default_file` is given."""
    import MySQLdb

    kwargs.setdefault("ssl", {"ca": cafile or ca_file()})
    kwargs.setdefault("read_default_file", option_file())
    return MySQLdb.connect(host=host, port=port, user=user, **kwargs)


if __name__ == "__main__":
    print(plugin_dir())
    sys.exit(0)
