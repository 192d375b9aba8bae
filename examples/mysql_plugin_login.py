"""An ordinary Python program on mysqlclient (MySQLdb, on libmariadb): it connects with a user
and no password and knows nothing of IAM. Run with MARIADB_PLUGIN_DIR pointing at the directory
`iam-db-auth mysql-plugin install` made, it logs in with IAM tokens; nothing in the program
changes. mysqlclient loads libmariadb RTLD_LOCAL (as Python loads every extension), which is
why the plugin must not depend on libmariadb's symbols.

usage: python mysql_plugin_login.py HOST PORT USER CA_FILE [COUNT]
Prints the current user and TLS cipher, then "logins ok: N of COUNT".
"""

import sys

import MySQLdb


def main() -> int:
    host, port, user, ca = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    count = int(sys.argv[5]) if len(sys.argv) > 5 else 1
    good = 0
    for n in range(count):
        try:
            conn = MySQLdb.connect(host=host, port=port, user=user, ssl={"ca": ca})
        except MySQLdb.OperationalError as err:
            print(f"login failed: {err}", file=sys.stderr)
            continue
        cur = conn.cursor()
        cur.execute("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
        cipher = cur.fetchone()[1]
        cur.execute("SELECT CURRENT_USER()")
        (current,) = cur.fetchone()
        if n == 0:
            print(f"current user: {current}, cipher: {cipher}")
        conn.close()
        good += 1
    print(f"logins ok: {good} of {count}")
    return 0 if good == count else 1


if __name__ == "__main__":
    sys.exit(main())
