"""The pgpass helper, one shot: `iam-db-auth pgpass` writes a token into a passfile and
unmodified libpq programs (psql, pg_dump, psycopg with its bundled libpq, a C program on the
system libpq) log in with it to the PostgreSQL stand-in, verify-full. Also: editing a passfile
that holds other entries, what it refuses to touch, credential failures, the old-libpq warning.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import subprocess
from pathlib import Path

import pytest
from conftest import BIN, aws_env, random_text, run, temporary_key
from pg_support import CLIENTS, NO_PASSFILE, Pg, entry, libpq_env, pgpass, psql_login, psql_logs_in

pytest_plugins = ["pg_support"]  # its fixtures


@pytest.fixture
def passfile(pg: Pg, tmp_path: Path) -> Path:
    """A passfile the helper wrote for the stand-in's IAM user (demo key)."""
    path = tmp_path / "pgpass"
    r = pgpass(pg, path)
    assert r.returncode == 0, r.stderr
    return path


def test_pgpass_writes_a_private_escaped_entry_and_never_prints_the_token(pg: Pg, tmp_path: Path):
    path = tmp_path / "pgpass"
    r = pgpass(pg, path)
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for word in ("X-Amz-Signature", "Amz-Credential"):
        assert word not in r.stdout + r.stderr
    # The token's own host:port colon is escaped, as libpq reads the fifth field.
    line = entry(path, pg)
    assert line and line.startswith(f"localhost:{pg.port}:*:{pg.user}:localhost\\:{pg.port}/?Action=connect&"), line


@pytest.mark.parametrize("name", CLIENTS)
def test_libpq_client_logs_in_with_the_passfile_token(pg: Pg, passfile: Path, clients, name: str):
    client = clients[name]
    r = run(client.argv(pg.conninfo()), env=libpq_env(passfile))
    assert client.logged_in(r.stdout), f"{name}: exit {r.returncode}: {r.stdout[-500:]} {r.stderr[-1500:]}"


def test_psql_without_the_passfile_cannot_log_in(pg: Pg):
    r = psql_login(pg.conninfo(), libpq_env(NO_PASSFILE))
    assert r.returncode == 2 and "no password supplied" in r.stderr, r.stderr


def test_the_standin_rejects_a_connection_without_tls_even_with_the_passfile(pg: Pg, passfile: Path):
    r = psql_login(pg.conninfo(sslmode="disable"), libpq_env(passfile))
    assert r.returncode == 2 and "no encryption" in r.stderr, r.stderr


def test_a_session_token_entry_is_long_and_logs_in(pg: Pg, tmp_path: Path):
    path = tmp_path / "pgpass"
    with temporary_key(pg.standin, session_token=random_text(800)) as key:
        r = pgpass(pg, path, env=key.env(AWS_REGION=pg.region))
        assert r.returncode == 0, r.stderr
        line = entry(path, pg)
        # Over the 320 bytes an old libpq reads of a line.
        assert line and len(line) > 1000, line
        psql_logs_in(pg, path)


def lines(data: bytes) -> list[bytes]:
    """A file's lines as written (split at \\n only, so \\r and a missing final newline stay)."""
    return data.split(b"\n")


def test_an_entry_in_a_mixed_passfile_is_updated_in_place_and_every_other_byte_kept(pg: Pg, tmp_path: Path):
    path = tmp_path / "pgpass.mixed"
    original = (
        b"# personal passwords, do not lose\r\n"
        b"other.example.com:5432:*:bob:s3cr\\:et\\\\x\n"
        b"\n"
        b"   \t\n"
        + f"localhost:{pg.port}:*:{pg.user}:OLD-TOKEN-TO-REPLACE\n".encode()
        + b"# trailing comment with colons a:b:c:d:e\n"
        b"[::1]:5432:db:alice:pw\r\n"
        b"*:*:*:*:catch-all-without-newline"
    )
    path.write_bytes(original)
    path.chmod(0o600)
    r = pgpass(pg, path)
    assert r.returncode == 0, r.stderr
    ours = f"localhost:{pg.port}:".encode()
    after = lines(path.read_bytes())
    assert [x for x in after if not x.startswith(ours)] == [x for x in lines(original) if not x.startswith(ours)]
    assert [i for i, x in enumerate(after, 1) if x.startswith(ours)] == [5]
    assert path.read_bytes().endswith(b"catch-all-without-newline")
    assert b"OLD-TOKEN-TO-REPLACE" not in path.read_bytes()
    psql_logs_in(pg, path)


def test_a_new_entry_goes_before_a_catch_all_line(pg: Pg, tmp_path: Path):
    path = tmp_path / "pgpass.catchall"
    path.write_text("other.example.com:5432:*:bob:pw\n*:*:*:*:wrong-password\n")
    path.chmod(0o600)
    assert pgpass(pg, path, "-q").returncode == 0
    data = path.read_bytes()
    ours = f"localhost:{pg.port}:".encode()
    assert [i for i, x in enumerate(lines(data), 1) if x.startswith(ours)] == [2]
    assert data.count(b"\n") == 3
    psql_logs_in(pg, path)


def test_an_earlier_line_that_hides_the_entry_is_reported(pg: Pg, tmp_path: Path):
    path = tmp_path / "pgpass.shadowed"
    path.write_text(f"localhost:*:*:*:hides-everything\nlocalhost:{pg.port}:*:{pg.user}:OLD\n")
    path.chmod(0o600)
    r = pgpass(pg, path)
    assert "line 1 (localhost:*:*:*) comes first and matches every connection" in r.stderr, r.stderr


def test_twenty_concurrent_writers_lose_nothing(pg: Pg, tmp_path: Path):
    path = tmp_path / "pgpass.concurrent"
    path.write_text("# shared by 20 writers\n")
    path.chmod(0o600)
    writers = [
        subprocess.Popen(
            [BIN, "pgpass", "-q", "--host", f"db{i}.example.com", "--user", f"u{i}", "--file", path],
            env=pg.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for i in range(1, 21)
    ]
    failures = []
    for w in writers:
        _, err = w.communicate(timeout=60)
        if w.returncode != 0:
            failures.append(err)
    assert not failures, failures
    text = path.read_text()
    hosts = set(re.findall(r"^db(\d+)\.example\.com:5432:\*:u\1:", text, re.M))
    assert hosts == {str(i) for i in range(1, 21)}
    assert text.splitlines()[0] == "# shared by 20 writers"


# --- What the helper refuses to touch (exit 1, a message, the file as it was) ---


def valid_passfile(path: Path) -> Path:
    path.write_text("a:1:*:u:p\n")
    path.chmod(0o600)
    return path


def make_symlink(d: Path) -> Path:
    (d / "link").symlink_to(valid_passfile(d / "target"))
    return d / "link"


def make_directory(d: Path) -> Path:
    (d / "adir").mkdir()
    return d / "adir"


def make_unparsable(d: Path) -> Path:
    (d / "notpass").write_text("this is not a passfile\n")
    (d / "notpass").chmod(0o600)
    return d / "notpass"


def make_nul(d: Path) -> Path:
    (d / "nul").write_bytes(b"a:1:*:u:p\0x\n")
    (d / "nul").chmod(0o600)
    return d / "nul"


def make_foreign(d: Path) -> Path:
    path = valid_passfile(d / "foreign")
    os.chown(path, 65534, -1)  # nobody
    return path


def make_hard_linked(d: Path) -> Path:
    path = valid_passfile(d / "linked")
    os.link(path, d / "linked2")
    return path


REFUSALS = [
    ("symlink", make_symlink, "is a symbolic link"),
    ("directory", make_directory, "is a directory"),
    ("unparsable", make_unparsable, "line 1: not a passfile entry"),
    ("nul_byte", make_nul, "NUL"),
    ("foreign_owner", make_foreign, "owned by uid"),
    ("two_hard_links", make_hard_linked, "hard links"),
]


def snapshot(path: Path) -> tuple:
    """Everything a write would change: the name's and its target's metadata, and the content."""
    link, target = os.lstat(path), os.stat(path)
    content = sorted(os.listdir(path)) if stat.S_ISDIR(target.st_mode) else hashlib.sha256(path.read_bytes()).hexdigest()
    return tuple((s.st_ino, s.st_size, s.st_mtime_ns, s.st_mode, s.st_uid, s.st_nlink) for s in (link, target)) + (content,)


def temp_files(d: Path) -> list[str]:
    return [name for name in os.listdir(d) if ".iam-db-auth." in name]


@pytest.mark.parametrize("make, reason", [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS])
def test_pgpass_refuses_and_leaves_the_file_alone(pg: Pg, tmp_path: Path, make, reason: str):
    path = make(tmp_path)
    before = snapshot(path)
    r = pgpass(pg, path)
    assert r.returncode == 1 and reason in r.stderr, f"exit {r.returncode}: {r.stderr}"
    assert snapshot(path) == before
    assert temp_files(tmp_path) == []


def test_a_group_readable_passfile_is_rewritten_0600_with_a_note(pg: Pg, tmp_path: Path):
    path = tmp_path / "loose"
    path.write_text("a:1:*:u:p\n")
    path.chmod(0o644)
    r = pgpass(pg, path)
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "was mode 0644, so libpq ignored it" in r.stderr
    assert temp_files(tmp_path) == []


# --- Credential failures ---


def test_a_token_from_an_unknown_key_is_written_and_refused_by_the_server(pg: Pg, tmp_path: Path):
    path = tmp_path / "pgpass.wrong"
    wrong = aws_env(AWS_ACCESS_KEY_ID="AKIAUNKNOWNKEY000001", AWS_SECRET_ACCESS_KEY="not-the-secret",
                    AWS_REGION=pg.region)
    r = pgpass(pg, path, env=wrong)
    assert r.returncode == 0, r.stderr  # the helper cannot know the key is unknown
    r = psql_login(pg.conninfo(), libpq_env(path))
    assert r.returncode == 2 and f'PAM authentication failed for user "{pg.user}"' in r.stderr, r.stderr


def test_without_credentials_pgpass_exits_1_and_leaves_the_file_unchanged(pg: Pg, passfile: Path):
    before = passfile.read_bytes()
    r = pgpass(pg, passfile, env=pg.no_credentials_env())
    assert r.returncode == 1, r.stderr
    assert re.search(r"no AWS credentials found.*left unchanged", r.stderr, re.S), r.stderr
    assert passfile.read_bytes() == before


# --- The old-libpq warning ---


def test_a_libpq_older_than_12_5_gets_a_warning(pg: Pg, tmp_path: Path):
    # A stand-in for a pre-2020 libpq: only PQlibVersion, saying 12.4 (it cut lines at 320 bytes).
    (tmp_path / "v.c").write_text("int PQlibVersion(void) { return 120004; }\n")
    run(["cc", "-shared", "-fPIC", "-Wl,-soname,libpq.so.5", "-o", tmp_path / "libpq.so.5", tmp_path / "v.c"],
        check=True)
    r = pgpass(pg, tmp_path / "pgpass", env=pg.env(LD_LIBRARY_PATH=str(tmp_path)))
    assert "version 12.4) reads at most about 320 bytes of a passfile line" in r.stderr, r.stderr


def test_the_system_libpq_gets_no_warning(pg: Pg, tmp_path: Path):
    r = pgpass(pg, tmp_path / "pgpass")
    assert r.returncode == 0 and "320 bytes" not in r.stderr, r.stderr
