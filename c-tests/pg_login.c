/*
 * pg_login: an ordinary libpq program, unaware of IAM. It connects with the connection string
 * given as its only argument (no password in it: libpq finds one in the passfile, or wherever
 * libpq looks), runs one query and prints the result. Used by tests/e2e/test_postgres_*.py to
 * show that a C program on libpq logs in with a token the pgpass helper wrote.
 *
 * Output: "<current_user> ssl=<t|f> libpq=<PQlibVersion()>" on stdout; exit 0.
 * On failure: libpq's message on stderr; exit 1 (connection) or 2 (query).
 */
#include <libpq-fe.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CONNINFO\n", argv[0]);
        return 64;
    }
    PGconn *conn = PQconnectdb(argv[1]);
    if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "pg_login: connection failed: %s",
                conn ? PQerrorMessage(conn) : "out of memory\n");
        PQfinish(conn);
        return 1;
    }
    PGresult *res = PQexec(conn,
                           "SELECT current_user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()");
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        fprintf(stderr, "pg_login: query failed: %s", PQerrorMessage(conn));
        PQclear(res);
        PQfinish(conn);
        return 2;
    }
    printf("%s ssl=%s libpq=%d\n", PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), PQlibVersion());
    PQclear(res);
    PQfinish(conn);
    return 0;
}
