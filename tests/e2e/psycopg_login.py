"""An ordinary psycopg 3 program, unaware of IAM: connects with the connection string given as
its only argument (no password: libpq finds it in the passfile), runs one query, prints
"<current_user> ssl=<True|False> impl=<psycopg implementation> libpq=<version>".

With psycopg[binary] the libpq is the one inside the wheel, not the system's: the point of
this test. Exit 1 with psycopg's message on failure.
"""
import sys

import psycopg


def main() -> int:
    try:
        with psycopg.connect(sys.argv[1]) as conn:
            row = conn.execute(
                "SELECT current_user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
            ).fetchone()
    except psycopg.OperationalError as err:
        print(f"psycopg_login: {err}", file=sys.stderr)
        return 1
    print(f"{row[0]} ssl={row[1]} impl={psycopg.pq.__impl__} libpq={psycopg.pq.version()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
