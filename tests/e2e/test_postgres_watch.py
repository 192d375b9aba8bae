"""`iam-db-auth pgpass --watch`: it keeps the passfile's token fresh (on its schedule, and at
once on SIGHUP, which also reads the targets file again), retries failing credentials with
backoff while the entry it has is still valid, and stops cleanly on SIGTERM.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from conftest import BIN, DEMO_ACCESS_KEY_ID, DEMO_SECRET_ACCESS_KEY, aws_env, run, wait_until
from pg_support import Pg, amz_date, entry, psql_logs_in

pytest_plugins = ["pg_support"]  # its fixtures


def watch_args(pg: Pg, passfile: Path, *options: str) -> list:
    """`pgpass --watch` for the stand-in's IAM user, plus `options`."""
    return [BIN, "pgpass", "--watch", *options, "--host", "localhost", "--port", pg.port,
            "--user", pg.user, "--file", passfile]


def stops_on_sigterm(watcher) -> None:
    watcher.send(signal.SIGTERM)
    assert watcher.wait(10) == 0, watcher.text()
    assert "stopping on SIGTERM" in watcher.text()


@pytest.mark.deep
def test_watch_replaces_the_token_on_schedule(pg: Pg, tmp_path: Path, background):
    path = tmp_path / "pgpass.watch"
    watcher = background("watch", watch_args(pg, path, "--refresh-every", "2s"), pg.env())
    first = wait_until(lambda: entry(path, pg), 10)
    assert first, watcher.text()
    second = wait_until(lambda: (line := entry(path, pg)) != first and line, 10)
    assert second, watcher.text()
    assert amz_date(second) > amz_date(first)
    psql_logs_in(pg, path)
    stops_on_sigterm(watcher)
    log = watcher.text()
    assert f"updated localhost:{pg.port}:*:{pg.user}" in log
    assert "X-Amz-Signature" not in log


def amz_now() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())


def test_sighup_refreshes_at_once_and_reads_the_targets_again(pg: Pg, tmp_path: Path, background):
    path, targets = tmp_path / "pgpass.hup", tmp_path / "hup.targets"
    targets.write_text(f"host=localhost port={pg.port} user={pg.user}\n")
    watcher = background(
        "hup",
        [BIN, "pgpass", "--watch", "--refresh-every", "10m", "--targets-file", targets, "--file", path],
        pg.env(),
    )
    first = amz_date(wait_until(lambda: entry(path, pg), 10))
    assert first, watcher.text()
    # A token signed in the same second would be the same token.
    assert wait_until(lambda: amz_now() > first, 3)
    watcher.send(signal.SIGHUP)
    # Ten minutes before the next scheduled refresh.
    assert wait_until(lambda: amz_date(entry(path, pg)) > first, 10), watcher.text()
    psql_logs_in(pg, path)
    assert wait_until(lambda: "SIGHUP: refreshing every entry now (1 target)" in watcher.text(), 5), watcher.text()

    with targets.open("a") as f:
        f.write(f"host=localhost port={pg.port} user={pg.user} dbname=reloaded\n")
    watcher.send(signal.SIGHUP)
    assert wait_until(lambda: entry(path, pg, dbname="reloaded"), 10), watcher.text()

    targets.write_text("host= port=banana\n")
    watcher.send(signal.SIGHUP)
    assert wait_until(lambda: "keeping the old targets" in watcher.text(), 10), watcher.text()
    assert watcher.wait(0) is None, "the watcher died of a broken targets file"
    stops_on_sigterm(watcher)


def flaky_profile(tmp_path: Path, pg: Pg, outage: Path) -> dict[str, str]:
    """An environment whose profile `flaky` gets the demo key from a credential_process that
    fails while `outage` exists."""
    script = tmp_path / "creds.sh"
    script.write_text(
        "#!/bin/sh\n"
        f'if [ -e "{outage}" ]; then echo "simulated credential outage" >&2; exit 1; fi\n'
        f"printf '{{\"Version\": 1, \"AccessKeyId\": \"%s\", \"SecretAccessKey\": \"%s\"}}\\n' "
        f'"{DEMO_ACCESS_KEY_ID}" "{DEMO_SECRET_ACCESS_KEY}"\n'
    )
    script.chmod(0o755)
    config = tmp_path / "aws-config"
    config.write_text(f"[profile flaky]\ncredential_process = {script}\nregion = {pg.region}\n")
    return aws_env(AWS_CONFIG_FILE=str(config))


@pytest.mark.deep
def test_watch_retries_credential_failures_with_backoff_while_the_entry_is_valid(
    pg: Pg, tmp_path: Path, background
):
    path, outage = tmp_path / "pgpass.flaky", tmp_path / "outage"
    env = flaky_profile(tmp_path, pg, outage)
    watcher = background("flaky", watch_args(pg, path, "--refresh-every", "2s", "--profile", "flaky"), env)
    assert wait_until(lambda: entry(path, pg), 10), watcher.text()
    outage.touch()
    assert wait_until(lambda: "(attempt 1)" in watcher.text(), 10), watcher.text()
    during = entry(path, pg)
    assert wait_until(lambda: "(attempt 3); retrying in 4 s" in watcher.text(), 15), watcher.text()
    log = watcher.text()
    assert "(attempt 1); retrying in 1 s" in log and "(attempt 2); retrying in 2 s" in log, log
    assert "simulated credential outage" in log, "the retry log does not say why credentials failed"
    assert entry(path, pg) == during, "the entry changed while credentials failed"
    outage.unlink()
    assert wait_until(lambda: entry(path, pg) != during, 10), watcher.text()
    psql_logs_in(pg, path)
    stops_on_sigterm(watcher)


def test_a_watcher_with_nothing_valid_to_fall_back_on_gives_up(pg: Pg, tmp_path: Path):
    outage = tmp_path / "outage"
    env = flaky_profile(tmp_path, pg, outage)
    outage.touch()
    r = run(watch_args(pg, tmp_path / "pgpass.none", "--refresh-every", "2s", "--profile", "flaky"),
            env=env, timeout=20)
    assert r.returncode == 1, r.stderr
    assert "giving up: there is no valid token in the file to fall back on" in r.stderr, r.stderr
