/*
 * PQsetdbLogin connects where libpq says it does, with or without the LD_PRELOAD shim
 * (pq-preload/). libpq's rule (fe-connect.c, PQsetdbLogin): a connection string in dbName is
 * read first, and then every non-empty explicit argument (pghost, pgport, login, pwd)
 * overrides what it said. Before the fix the shim let dbName's host and port win over the
 * explicit ones: the program was connected to, and a token signed for, a server it had not
 * named.
 *
 *   pq_setdblogin plain   without the shim: the control (this is libpq's own behaviour)
 *   pq_setdblogin shim    with LD_PRELOAD=libiam_db_auth_pq.so and AWS credentials and
 *                         AWS_REGION in the environment
 *
 * Two recording servers listen on loopback. Each speaks just enough of the protocol to ask for
 * a cleartext password and keep what it is sent; the connections use sslmode=disable (with
 * IAM_DB_AUTH_ALLOW_CLEARTEXT=1) so that the password can be read without TLS. For every case
 * the test checks which server the connection reached and, with the shim, that the token it was
 * sent is signed for that server's port (without the shim, no password is sent at all).
 *
 * Prints one line per check and "N passed, N failed"; exits 0 only if all passed.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static int passed, failed;

#define CHECK(cond, what, ...)                                                                 \
    do {                                                                                       \
        if (cond) {                                                                            \
            passed++;                                                                          \
            printf("ok   " what "\n", __VA_ARGS__);                                           \
        } else {                                                                               \
            failed++;                                                                          \
            printf("FAIL " what " (%s:%d: %s)\n", __VA_ARGS__, __FILE__, __LINE__, #cond);      \
        }                                                                                      \
        fflush(stdout);                                                                        \
    } while (0)

/* ---- the recording servers ---------------------------------------------------------------- */

struct server {
    int listener;
    int port;
    int connections;     /* connections accepted */
    char password[4096]; /* the last password received ("" if none) */
};

static struct server servers[2];
static int stop_pipe[2];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static int read_exactly(int fd, void *buf, size_t len)
{
    char *p = buf;
    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* SSL and GSS requests are refused ('N'); the startup packet is answered with a request for a
 * cleartext password; the password message is kept; then the connection is closed. */
static void converse(int fd, struct server *s)
{
    struct timeval bound = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &bound, sizeof bound);
    unsigned char head[8];
    for (;;) {
        if (read_exactly(fd, head, 8) != 0)
            return;
        uint32_t len = be32(head), code = be32(head + 4);
        if (len == 8 && (code == 80877103 || code == 80877104)) {
            if (write(fd, "N", 1) != 1)
                return;
            continue;
        }
        if (len < 8 || len > 10000)
            return;
        char rest[10000];
        if (read_exactly(fd, rest, len - 8) != 0)
            return;
        break;
    }
    static const unsigned char ask_cleartext[] = {'R', 0, 0, 0, 8, 0, 0, 0, 3};
    if (write(fd, ask_cleartext, sizeof ask_cleartext) != (ssize_t)sizeof ask_cleartext)
        return;
    unsigned char type_len[5];
    if (read_exactly(fd, type_len, 5) != 0 || type_len[0] != 'p')
        return;
    uint32_t len = be32(type_len + 1);
    char password[4096];
    if (len < 5 || len - 4 > sizeof password || read_exactly(fd, password, len - 4) != 0)
        return;
    password[len - 5] = '\0';
    pthread_mutex_lock(&lock);
    snprintf(s->password, sizeof s->password, "%s", password);
    pthread_mutex_unlock(&lock);
    /* ErrorResponse: length 42 = 4 + "SFATAL" + "C28P01" + "Mrecorded, not checked" (each
     * with its NUL) + the closing NUL, which is the literal's own. */
    static const char refuse[] = "E\0\0\0\x2aSFATAL\0C28P01\0Mrecorded, not checked\0";
    if (write(fd, refuse, sizeof refuse) < 0)
        return;
}

static void *serve(void *arg)
{
    (void)arg;
    for (;;) {
        struct pollfd fds[3] = {{servers[0].listener, POLLIN, 0},
                                {servers[1].listener, POLLIN, 0},
                                {stop_pipe[0], POLLIN, 0}};
        if (poll(fds, 3, 10000) <= 0 || fds[2].revents != 0)
            return NULL;
        for (int i = 0; i < 2; i++) {
            if (!(fds[i].revents & POLLIN))
                continue;
            int fd = accept(servers[i].listener, NULL, NULL);
            if (fd < 0)
                continue;
            pthread_mutex_lock(&lock);
            servers[i].connections++;
            pthread_mutex_unlock(&lock);
            converse(fd, &servers[i]);
            /* Closed gracefully: whatever the client still sends is read first, so that the
             * close does not reset the connection before the client has read our answer. */
            char drain[512];
            shutdown(fd, SHUT_WR);
            while (read(fd, drain, sizeof drain) > 0)
                ;
            close(fd);
        }
    }
}

static void listen_on_loopback(struct server *s)
{
    struct sockaddr_in addr;
    socklen_t len = sizeof addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->listener = socket(AF_INET, SOCK_STREAM, 0);
    if (s->listener < 0 || bind(s->listener, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        listen(s->listener, 8) != 0 || getsockname(s->listener, (struct sockaddr *)&addr, &len) != 0) {
        perror("listen");
        exit(2);
    }
    s->port = ntohs(addr.sin_port);
}

/* ---- the cases --------------------------------------------------------------------------- */

static int shim;

/* Calls PQsetdbLogin and checks that server `expect` (0 or 1), and only it, was reached, with
 * (shim) a token for its port or (plain) no password. */
static void connect_case(const char *what, const char *host, const char *port, const char *dbname,
                         int expect)
{
    for (int i = 0; i < 2; i++) {
        servers[i].connections = 0;
        servers[i].password[0] = '\0';
    }
    PGconn *conn = PQsetdbLogin(host, port, NULL, NULL, dbname, "app", NULL);
    int status = conn ? (int)PQstatus(conn) : -1;
    char error[512];
    snprintf(error, sizeof error, "%s", conn ? PQerrorMessage(conn) : "(no connection)");
    error[strcspn(error, "\n")] = '\0';
    PQfinish(conn);

    pthread_mutex_lock(&lock);
    int reached = servers[expect].connections, other = servers[1 - expect].connections;
    char password[4096];
    snprintf(password, sizeof password, "%s", servers[expect].password);
    pthread_mutex_unlock(&lock);

    CHECK(status == CONNECTION_BAD, "%s: the recording server refuses the login", what);
    CHECK(reached > 0 && other == 0,
          "%s: the connection reached port %d (libpq's rule), not port %d [reached: %d, %d; %s]",
          what, servers[expect].port, servers[1 - expect].port, reached, other, error);
    if (shim) {
        char prefix[128];
        snprintf(prefix, sizeof prefix, "127.0.0.1:%d/?Action=connect&DBUser=app&",
                 servers[expect].port);
        CHECK(strncmp(password, prefix, strlen(prefix)) == 0 &&
                  strstr(error, "recorded, not checked") != NULL,
              "%s: the shim sent a token signed for 127.0.0.1:%d and user app [got: %.60s]",
              what, servers[expect].port, password);
    } else {
        CHECK(password[0] == '\0' && strstr(error, "no password supplied") != NULL,
              "%s: without the shim no password is sent (%s)", what, "control");
    }
}

int main(int argc, char **argv)
{
    if (argc != 2 || (strcmp(argv[1], "plain") != 0 && strcmp(argv[1], "shim") != 0)) {
        fprintf(stderr, "usage: %s plain|shim\n", argv[0]);
        return 64;
    }
    shim = strcmp(argv[1], "shim") == 0;
    /* libpq's environment plays no part: every value comes from the call. */
    const char *unset[] = {"PGHOST", "PGHOSTADDR", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE",
                           "PGSERVICE", "PGSSLMODE", "PGREQUIRESSL", NULL};
    for (int i = 0; unset[i] != NULL; i++)
        unsetenv(unset[i]);
    setenv("PGPASSFILE", "/nonexistent/pgpass", 1);
    setenv("PGGSSENCMODE", "disable", 1);
    setenv("IAM_DB_AUTH_PQ_HOSTS", "127.0.0.1", 1);
    setenv("IAM_DB_AUTH_ALLOW_CLEARTEXT", "1", 1);

    listen_on_loopback(&servers[0]);
    listen_on_loopback(&servers[1]);
    pthread_t thread;
    if (pipe(stop_pipe) != 0 || pthread_create(&thread, NULL, serve, NULL) != 0) {
        perror("start");
        return 2;
    }
    /* dbName also names another user: the explicit login wins (the token's DBUser=app). */
    char named_port[16], dbname[256];
    snprintf(named_port, sizeof named_port, "%d", servers[0].port);
    snprintf(dbname, sizeof dbname,
             "host=127.0.0.1 port=%d dbname=d user=other sslmode=disable connect_timeout=5",
             servers[1].port);

    connect_case("explicit host and port, another port in dbName", "127.0.0.1", named_port,
                 dbname, 0);
    connect_case("explicit port only, another port in dbName", NULL, named_port, dbname, 0);
    connect_case("empty host and port: dbName's apply", "", "", dbname, 1);
    connect_case("NULL host and port: dbName's apply", NULL, NULL, dbname, 1);
    snprintf(dbname, sizeof dbname,
             "postgresql://other@127.0.0.1:%d/d?sslmode=disable&connect_timeout=5",
             servers[1].port);
    connect_case("explicit port, another in a dbName URI", "127.0.0.1", named_port, dbname, 0);

    if (write(stop_pipe[1], "x", 1) != 1 || pthread_join(thread, NULL) != 0)
        return 2;
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
