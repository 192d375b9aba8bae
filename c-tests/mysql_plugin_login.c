/*
 * An ordinary libmariadb (MariaDB Connector/C) program: it connects with a user and no
 * password, and knows nothing of IAM. Pointed at the iam-db-auth plugin directory (by
 * MARIADB_PLUGIN_DIR or --plugin-dir, which sets MYSQL_PLUGIN_DIR), it logs in with IAM tokens.
 * Used by tests/e2e/test_mysql_plugin.py, test_mysql_plugin_asan.py and scripts/bench/mysql-plugin-login.sh.
 *
 * usage: mysql_plugin_login [options] HOST PORT USER
 *   --ca FILE         use TLS, verify the server's certificate against FILE
 *   --ssl-enforce     use TLS (MYSQL_OPT_SSL_ENFORCE) and nothing else: no CA, no verification
 *   --plugin-dir DIR  set MYSQL_PLUGIN_DIR on each connection
 *   --count N         log in N times (a new connection each time; default 1)
 *   --reinit          call mysql_library_end() and mysql_library_init() between logins:
 *                     Connector/C deinits and dlcloses the plugin, then loads it again
 *   --record TABLE    after each login run INSERT INTO TABLE VALUES (CONNECTION_ID(), '<pid>')
 *   --timing          print the median, 10th and 90th percentile of the login times
 *   --print-times     print each login's time, one "login_ms <ms>" line per login
 *   --expect-error N  every login must fail with mysql_errno() == N (its message is printed)
 * Prints "logins ok: N of M"; exits 0 when every login went as expected.
 *
 * Build: cc -Wall -Wextra -Werror $(mariadb_config --cflags) mysql_plugin_login.c $(mariadb_config --libs)
 */
#define _POSIX_C_SOURCE 200809L
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct options {
    const char *host, *user, *ca, *plugin_dir, *record;
    unsigned int port;
    long count;
    int reinit, timing, print_times, ssl_enforce;
    unsigned int expect_error;
};

static void usage(void)
{
    fprintf(stderr, "usage: mysql_plugin_login [--ca FILE] [--ssl-enforce] [--plugin-dir DIR] [--count N] [--reinit]\n"
                    "       [--record TABLE] [--timing] [--print-times] [--expect-error N] HOST PORT USER\n");
    exit(2);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One login; returns 1 if it went as expected. */
static int login_once(const struct options *o, double *elapsed_ms)
{
    MYSQL *mysql = mysql_init(NULL);
    int ok = 0;
    if (!mysql) {
        fprintf(stderr, "mysql_init failed\n");
        return 0;
    }
    if (o->plugin_dir)
        mysql_optionsv(mysql, MYSQL_PLUGIN_DIR, o->plugin_dir);
    if (o->ca) {
        my_bool verify = 1;
        mysql_optionsv(mysql, MYSQL_OPT_SSL_CA, o->ca);
        mysql_optionsv(mysql, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
    }
    if (o->ssl_enforce) {
        my_bool enforce = 1;
        mysql_optionsv(mysql, MYSQL_OPT_SSL_ENFORCE, &enforce);
    }
    double start = now_ms();
    /* No password: the plugin makes the token. */
    MYSQL *connected = mysql_real_connect(mysql, o->host, o->user, NULL, NULL, o->port, NULL, 0);
    *elapsed_ms = now_ms() - start;
    if (!connected) {
        unsigned int err = mysql_errno(mysql);
        if (o->expect_error && err == o->expect_error) {
            printf("expected error %u: %s\n", err, mysql_error(mysql));
            ok = 1;
        } else {
            fprintf(stderr, "login failed: %u (%s): %s\n", err, mysql_sqlstate(mysql), mysql_error(mysql));
        }
        mysql_close(mysql);
        return ok;
    }
    if (o->expect_error) {
        fprintf(stderr, "login succeeded, but error %u was expected\n", o->expect_error);
        mysql_close(mysql);
        return 0;
    }
    char query[256];
    if (o->record)
        snprintf(query, sizeof query, "INSERT INTO %s VALUES (CONNECTION_ID(), '%ld')", o->record, (long)getpid());
    else
        snprintf(query, sizeof query, "SELECT CURRENT_USER()");
    if (mysql_query(mysql, query)) {
        fprintf(stderr, "query failed: %s\n", mysql_error(mysql));
    } else {
        MYSQL_RES *res = mysql_store_result(mysql);
        if (res) {
            MYSQL_ROW row = mysql_fetch_row(res);
            if (row && row[0] && o->count == 1)
                printf("current user: %s, cipher: %s\n", row[0],
                       mysql_get_ssl_cipher(mysql) ? mysql_get_ssl_cipher(mysql) : "none");
            mysql_free_result(res);
        }
        ok = 1;
    }
    mysql_close(mysql);
    return ok;
}

int main(int argc, char **argv)
{
    struct options o = {0};
    o.count = 1;
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--reinit"))
            o.reinit = 1;
        else if (!strcmp(a, "--timing"))
            o.timing = 1;
        else if (!strcmp(a, "--print-times"))
            o.print_times = 1;
        else if (!strcmp(a, "--ssl-enforce"))
            o.ssl_enforce = 1;
        else if (i + 1 >= argc)
            usage();
        else if (!strcmp(a, "--ca"))
            o.ca = argv[++i];
        else if (!strcmp(a, "--plugin-dir"))
            o.plugin_dir = argv[++i];
        else if (!strcmp(a, "--record"))
            o.record = argv[++i];
        else if (!strcmp(a, "--count"))
            o.count = strtol(argv[++i], NULL, 10);
        else if (!strcmp(a, "--expect-error"))
            o.expect_error = (unsigned int)strtoul(argv[++i], NULL, 10);
        else
            usage();
    }
    if (argc - i != 3 || o.count < 1)
        usage();
    o.host = argv[i];
    o.port = (unsigned int)strtoul(argv[i + 1], NULL, 10);
    o.user = argv[i + 2];

    double *times = calloc((size_t)o.count, sizeof *times);
    if (!times)
        return 1;
    long good = 0;
    mysql_library_init(0, NULL, NULL);
    for (long n = 0; n < o.count; n++) {
        if (n > 0 && o.reinit) {
            mysql_library_end();
            mysql_library_init(0, NULL, NULL);
        }
        good += login_once(&o, &times[n]);
    }
    mysql_library_end();
    printf("logins ok: %ld of %ld\n", good, o.count);
    for (long n = 0; o.print_times && n < o.count; n++)
        printf("login_ms %.3f\n", times[n]);
    if (o.timing) {
        qsort(times, (size_t)o.count, sizeof *times, by_value);
        printf("login ms: median %.3f p10 %.3f p90 %.3f (n=%ld)\n", times[o.count / 2],
               times[o.count / 10], times[o.count * 9 / 10], o.count);
    }
    free(times);
    return good == o.count ? 0 : 1;
}
