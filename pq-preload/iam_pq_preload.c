/*
 * libiam_db_auth_pq.so: an opt-in LD_PRELOAD library that gives libpq programs an IAM token as
 * their password when they connect to a matching host, for programs that cannot be pointed at a
 * passfile or given PGPASSWORD.
 *
 *   LD_PRELOAD=/path/libiam_db_auth_pq.so psql "host=mydb.c9akciq32.us-east-1.rds.amazonaws.com user=app dbname=sales"
 *
 * It defines PQconnectdb, PQconnectdbParams, PQconnectStart, PQconnectStartParams and
 * PQsetdbLogin. Each works out the host, port and user the connection will use (its parameters,
 * then PGHOST/PGHOSTADDR, PGPORT, PGUSER, then libpq's defaults), and when
 *   - no password is given (a `password` parameter, or PGPASSWORD),
 *   - the connection names one host (not a list, not a unix socket), and
 *   - that host matches a pattern in IAM_DB_AUTH_PQ_HOSTS (comma-separated fnmatch patterns,
 *     case-insensitive; default "*.rds.amazonaws.com,*.rds.amazonaws.com.cn"),
 * it asks libiam_db_auth (iam_token_get: the AWS default credential chain, IAM_DB_AUTH_* settings)
 * for a token and calls libpq's own function with `password=<token>` added. The token goes only
 * to a server libpq has verified: the connection gets `sslmode=verify-full` unless it asks for
 * verify-ca or verify-full (`require` encrypts but verifies nothing, so it is raised too), and
 * `sslrootcert=` the CA lookup's file (iam_ca_file: IAM_DB_AUTH_CA_FILE, `ca update`'s copy, the
 * RDS bundle) unless it names one (sslrootcert, PGSSLROOTCERT). With IAM_DB_AUTH_SIGNING_HOST
 * set, a token signed for that host is added only where libpq checks the certificate for that
 * name (host=<signing host> hostaddr=<address>), or for a connect host listed in
 * IAM_DB_AUTH_CONNECT_HOSTS. It refuses to add a token to an `sslmode=disable` connection unless
 * IAM_DB_AUTH_ALLOW_CLEARTEXT is 1, true, on or yes; IAM_DB_AUTH_ALLOW_UNVERIFIED_TLS (same
 * values) keeps the old `sslmode=require` and skips the name binding. Everything else is passed
 * through untouched. When no token can be made, it says why on stderr and passes the connection
 * through (libpq then reports the missing password).
 *
 * libpq itself is not linked: its functions are found at run time, the next definition after this
 * library (RTLD_NEXT), else in a loaded object named libpq* (psycopg's binary wheel loads its own
 * libpq privately, where RTLD_NEXT cannot see it). This library is separate from
 * libiam_db_auth.so on purpose: the main library never defines a libpq symbol, so loading it can
 * never interpose libpq by accident.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <fnmatch.h>
#include <link.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "iam_db_auth.h"

#define EXPORT __attribute__((visibility("default")))
#define DEFAULT_PATTERNS "*.rds.amazonaws.com,*.rds.amazonaws.com.cn"
#define MAX_HOST 256

typedef PGconn *(*params_fn)(const char *const *keywords, const char *const *values, int expand_dbname);
typedef PGconn *(*conninfo_fn)(const char *conninfo);
typedef PGconn *(*setdb_fn)(const char *host, const char *port, const char *options, const char *tty,
                            const char *dbname, const char *login, const char *pwd);
typedef PQconninfoOption *(*parse_fn)(const char *conninfo, char **errmsg);
typedef void (*options_free_fn)(PQconninfoOption *options);
typedef void (*freemem_fn)(void *ptr);

/* ---- logging ---------------------------------------------------------------------------- */

static int verbose(void)
{
    const char *level = getenv("IAM_DB_AUTH_LOG");
    return level != NULL && (strcmp(level, "info") == 0 || strcmp(level, "debug") == 0);
}

/*
 * One line to stderr (fd 2), written with SIGPIPE blocked for this thread, the way libpq guards
 * its socket writes (pq_block_sigpipe / pq_reset_sigpipe): when stderr is a pipe whose reader is
 * gone and the program leaves SIGPIPE at its default action, a line of ours must not end the
 * program. A SIGPIPE the write raised is consumed; one that was already pending stays pending.
 * The line is formatted first and written with one write(2), so lines of threads do not mix.
 */
__attribute__((format(printf, 1, 2))) static void say(const char *format, ...)
{
    static const char prefix[] = "iam-db-auth pq-preload: ";
    char line[1024];
    size_t len = sizeof prefix - 1;
    memcpy(line, prefix, len);
    va_list args;
    va_start(args, format);
    int n = vsnprintf(line + len, sizeof line - len, format, args);
    va_end(args);
    if (n < 0)
        return;
    len += (size_t)n < sizeof line - len ? (size_t)n : sizeof line - len - 1;

    sigset_t sigpipe, previous, pending;
    sigemptyset(&sigpipe);
    sigaddset(&sigpipe, SIGPIPE);
    if (pthread_sigmask(SIG_BLOCK, &sigpipe, &previous) != 0)
        return; /* cannot guard the write: better no line than a dead program */
    sigemptyset(&pending);
    int was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE);
    int saved_errno = errno;
    ssize_t written = write(STDERR_FILENO, line, len);
    if (written < 0 && errno == EPIPE && !was_pending) {
        static const struct timespec now = {0, 0};
        while (sigtimedwait(&sigpipe, NULL, &now) < 0 && errno == EINTR) {
        }
    }
    errno = saved_errno;
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
}

#define SAY(...) say(__VA_ARGS__)

/* ---- finding libpq's own functions -------------------------------------------------------- */

struct lookup {
    const char *name;
    void *self;
    void *found;
};

static int find_in_libpq(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    struct lookup *lookup = data;
    const char *path = info->dlpi_name;
    if (path == NULL || path[0] == '\0')
        return 0;
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (strncmp(base, "libpq", 5) != 0)
        return 0;
    void *handle = dlopen(path, RTLD_LAZY | RTLD_NOLOAD);
    if (handle == NULL)
        return 0;
    void *symbol = dlsym(handle, lookup->name);
    dlclose(handle); /* RTLD_NOLOAD took a reference; the object stays loaded by its owner */
    if (symbol != NULL && symbol != lookup->self) {
        lookup->found = symbol;
        return 1;
    }
    return 0;
}

/* libpq's definition of `name` (not ours, `self`); NULL if libpq is not loaded. Looked up per call:
 * a program may load libpq after this library (Python imports), and the lookup is cheap next to
 * a connection. */
static void *libpq_symbol(const char *name, void *self)
{
    void *symbol = dlsym(RTLD_NEXT, name);
    if (symbol != NULL && symbol != self)
        return symbol;
    struct lookup lookup = {name, self, NULL};
    dl_iterate_phdr(find_in_libpq, &lookup);
    return lookup.found;
}

/* ---- what the connection will use ------------------------------------------------------- */

struct target {
    const char *host;
    const char *hostaddr;
    const char *port;
    const char *user;
    const char *password;
    const char *sslmode;
    const char *sslrootcert;
};

static void take(struct target *t, const char *keyword, const char *value)
{
    if (keyword == NULL || value == NULL || value[0] == '\0')
        return; /* libpq ignores NULL and empty values */
    if (strcmp(keyword, "host") == 0)
        t->host = value;
    else if (strcmp(keyword, "hostaddr") == 0)
        t->hostaddr = value;
    else if (strcmp(keyword, "port") == 0)
        t->port = value;
    else if (strcmp(keyword, "user") == 0)
        t->user = value;
    else if (strcmp(keyword, "password") == 0)
        t->password = value;
    else if (strcmp(keyword, "sslmode") == 0)
        t->sslmode = value;
    else if (strcmp(keyword, "sslrootcert") == 0)
        t->sslrootcert = value;
}

static const char *env(const char *name)
{
    const char *value = getenv(name);
    return value != NULL && value[0] != '\0' ? value : NULL;
}

/* libpq's test for a dbname that is really a connection string. */
static int is_conninfo(const char *value)
{
    return value != NULL && (strncmp(value, "postgresql://", 13) == 0 ||
                             strncmp(value, "postgres://", 11) == 0 || strchr(value, '=') != NULL);
}

/* Reads keywords/values as libpq does (in order, a connection string in dbname expanded in
 * place when expand_dbname). `parsed` receives the expansion, to be freed by the caller. */
static void read_params(struct target *t, const char *const *keywords, const char *const *values,
                        int expand_dbname, PQconninfoOption **parsed)
{
    *parsed = NULL;
    for (int i = 0; keywords[i] != NULL; i++) {
        if (expand_dbname && *parsed == NULL && strcmp(keywords[i], "dbname") == 0 &&
            is_conninfo(values[i])) {
            parse_fn parse = (parse_fn)libpq_symbol("PQconninfoParse", NULL);
            char *error = NULL;
            *parsed = parse ? parse(values[i], &error) : NULL;
            if (error != NULL) {
                freemem_fn freemem = (freemem_fn)libpq_symbol("PQfreemem", NULL);
                if (freemem)
                    freemem(error);
            }
            for (PQconninfoOption *o = *parsed; o != NULL && o->keyword != NULL; o++)
                take(t, o->keyword, o->val);
            continue;
        }
        take(t, keywords[i], values[i]);
    }
}

/* An on/off setting read as the library's other doors read it (config.rs). */
static int env_true(const char *name)
{
    const char *v = env(name);
    return v != NULL && (strcmp(v, "1") == 0 || strcasecmp(v, "true") == 0 ||
                         strcasecmp(v, "on") == 0 || strcasecmp(v, "yes") == 0);
}

/* Whether `host` is in the comma-separated list in the variable `name` (exact, any case; IPv6
 * literals with or without brackets). */
static int listed_in(const char *name, const char *host)
{
    const char *hosts = env(name);
    if (hosts == NULL)
        return 0;
    char list[1024];
    snprintf(list, sizeof list, "%s", hosts);
    size_t want = strlen(host);
    if (want >= 2 && host[0] == '[' && host[want - 1] == ']') {
        host++;
        want -= 2;
    }
    char *save = NULL;
    for (char *p = strtok_r(list, ",", &save); p != NULL; p = strtok_r(NULL, ",", &save)) {
        while (isspace((unsigned char)*p))
            p++;
        char *end = p + strlen(p);
        while (end > p && isspace((unsigned char)end[-1]))
            *--end = '\0';
        if (end - p >= 2 && p[0] == '[' && end[-1] == ']') {
            p++;
            end--;
        }
        if ((size_t)(end - p) == want && strncasecmp(p, host, want) == 0)
            return 1;
    }
    return 0;
}

static int host_matches(const char *host)
{
    const char *patterns = env("IAM_DB_AUTH_PQ_HOSTS");
    char list[1024];
    snprintf(list, sizeof list, "%s", patterns ? patterns : DEFAULT_PATTERNS);
    char *save = NULL;
    for (char *p = strtok_r(list, ",", &save); p != NULL; p = strtok_r(NULL, ",", &save)) {
        while (isspace((unsigned char)*p))
            p++;
        char *end = p + strlen(p);
        while (end > p && isspace((unsigned char)end[-1]))
            *--end = '\0';
        if (*p != '\0' && fnmatch(p, host, FNM_CASEFOLD) == 0)
            return 1;
    }
    return 0;
}

/* What the shim adds to a connection besides the password. */
struct tls_settings {
    const char *sslmode;     /* NULL: keep the connection's */
    const char *sslrootcert; /* NULL: keep the connection's */
};

/* The token for the connection, or NULL (with the reason said when it is not just "no match").
 * `tls` receives what to add so that libpq verifies the server before it sends the token. */
static char *token_for(struct target *t, const char *caller, struct tls_settings *tls)
{
    tls->sslmode = NULL;
    tls->sslrootcert = NULL;
    if (t->password != NULL || env("PGPASSWORD") != NULL)
        return NULL; /* the program or the user chose a password */
    const char *host = t->host ? t->host : env("PGHOST");
    if (host == NULL)
        host = t->hostaddr ? t->hostaddr : env("PGHOSTADDR");
    if (host == NULL || host[0] == '/' || host[0] == '@' || strchr(host, ',') != NULL)
        return NULL; /* a unix socket, the default socket, or a list of hosts */
    if (!host_matches(host))
        return NULL;
    const char *port_text = t->port ? t->port : env("PGPORT");
    long port = 5432;
    if (port_text != NULL) {
        char *end = NULL;
        port = strtol(port_text, &end, 10);
        if (end == port_text || *end != '\0' || port < 1 || port > 65535) {
            SAY("not adding a token for %s: port '%s' is not one port\n", host, port_text);
            return NULL;
        }
    }
    const char *user = t->user ? t->user : env("PGUSER");
    if (user == NULL) {
        struct passwd *pw = getpwuid(geteuid());
        user = pw ? pw->pw_name : NULL;
    }
    if (user == NULL) {
        SAY("not adding a token for %s: no user\n", host);
        return NULL;
    }
    const char *mode = t->sslmode ? t->sslmode : env("PGSSLMODE");
    int unverified_ok = env_true("IAM_DB_AUTH_ALLOW_UNVERIFIED_TLS");
    int verifying = 0;
    if (mode != NULL && strcmp(mode, "disable") == 0) {
        if (!env_true("IAM_DB_AUTH_ALLOW_CLEARTEXT")) {
            SAY("not sending a token to %s with sslmode=disable (it would cross the network in the "
                "clear); set IAM_DB_AUTH_ALLOW_CLEARTEXT=1 to allow it\n", host);
            return NULL;
        }
    } else if (mode != NULL && (strcmp(mode, "verify-full") == 0 || strcmp(mode, "verify-ca") == 0)) {
        verifying = 1;
    } else if (unverified_ok) {
        if (mode == NULL || strcmp(mode, "require") != 0)
            tls->sslmode = "require";
    } else {
        /* unset, allow, prefer, require: libpq would send the token to any server */
        tls->sslmode = "verify-full";
        verifying = 1;
    }
    /* The name libpq checks the certificate for (verify-full) is `host`, else `hostaddr`. A token
     * signed for another host (IAM_DB_AUTH_SIGNING_HOST) goes only where that name is checked,
     * or to a connect host the user listed. */
    const char *signing = env("IAM_DB_AUTH_SIGNING_HOST");
    if (signing != NULL && !unverified_ok && strcasecmp(signing, host) != 0 &&
        !listed_in("IAM_DB_AUTH_CONNECT_HOSTS", host)) {
        SAY("not adding a token signed for %s (IAM_DB_AUTH_SIGNING_HOST) to a connection to %s: "
            "libpq would check the server's certificate for %s, not %s. Connect with "
            "host=%s hostaddr=<address>, or list %s in IAM_DB_AUTH_CONNECT_HOSTS\n",
            signing, host, host, signing, signing, host);
        return NULL;
    }
    if (verifying && t->sslrootcert == NULL && env("PGSSLROOTCERT") == NULL) {
        tls->sslrootcert = iam_ca_file();
        if (tls->sslrootcert == NULL) {
            SAY("not adding a token for %s: no CA to verify the server with: %s\n", host,
                iam_last_error_message());
            return NULL;
        }
    }
    /* Tokens name an IPv6 address in brackets; libpq takes it bare. */
    char signed_host[MAX_HOST];
    int n = strchr(host, ':') ? snprintf(signed_host, sizeof signed_host, "[%s]", host)
                              : snprintf(signed_host, sizeof signed_host, "%s", host);
    if (n < 0 || (size_t)n >= sizeof signed_host) {
        SAY("not adding a token: host name too long\n");
        return NULL;
    }
    char *token = iam_token_get(signed_host, (uint16_t)port, NULL, user);
    if (token == NULL) {
        SAY("no token for %s@%s:%ld: %s\n", user, host, port, iam_last_error_message());
        return NULL;
    }
    if (verbose())
        SAY("%s: token for %s@%s:%ld%s%s%s%s\n", caller, user, host, port,
            tls->sslmode ? " sslmode=" : "", tls->sslmode ? tls->sslmode : "",
            tls->sslrootcert ? " sslrootcert=" : "", tls->sslrootcert ? tls->sslrootcert : "");
    return token;
}

/* Calls `real` with the parameters plus password (and the TLS settings). */
static PGconn *call_with_token(params_fn real, const char *const *keywords, const char *const *values,
                               int expand_dbname, const char *token, const struct tls_settings *tls)
{
    size_t n = 0;
    while (keywords[n] != NULL)
        n++;
    const char **k = calloc(n + 4, sizeof *k);
    const char **v = calloc(n + 4, sizeof *v);
    PGconn *conn = NULL;
    if (k != NULL && v != NULL) {
        memcpy(k, keywords, n * sizeof *k);
        memcpy(v, values, n * sizeof *v);
        /* Last, so they win over the same keywords earlier and over an expanded dbname. */
        k[n] = "password";
        v[n] = token;
        n++;
        if (tls->sslmode != NULL) {
            k[n] = "sslmode";
            v[n] = tls->sslmode;
            n++;
        }
        if (tls->sslrootcert != NULL) {
            k[n] = "sslrootcert";
            v[n] = tls->sslrootcert;
            n++;
        }
        conn = real((const char *const *)k, (const char *const *)v, expand_dbname);
    } else {
        conn = real(keywords, values, expand_dbname);
    }
    free(k);
    free(v);
    return conn;
}

static PGconn *connect_params(const char *name, void *self, const char *const *keywords,
                              const char *const *values, int expand_dbname)
{
    params_fn real = (params_fn)libpq_symbol(name, self);
    if (real == NULL) {
        SAY("%s: libpq is not loaded\n", name);
        return NULL;
    }
    if (keywords == NULL || values == NULL)
        return real(keywords, values, expand_dbname);
    struct target t = {0};
    PQconninfoOption *parsed = NULL;
    read_params(&t, keywords, values, expand_dbname, &parsed);
    struct tls_settings tls;
    char *token = token_for(&t, name, &tls);
    PGconn *conn = token ? call_with_token(real, keywords, values, expand_dbname, token, &tls)
                         : real(keywords, values, expand_dbname);
    iam_token_free(token);
    if (parsed != NULL) {
        options_free_fn options_free = (options_free_fn)libpq_symbol("PQconninfoFree", NULL);
        if (options_free)
            options_free(parsed);
    }
    return conn;
}

/* A connection string: parsed with libpq's own parser, then connected through the Params form
 * when a token is added, else passed through as it was. */
static PGconn *connect_conninfo(const char *name, void *self, const char *params_name,
                                void *params_self, const char *conninfo)
{
    conninfo_fn real = (conninfo_fn)libpq_symbol(name, self);
    if (real == NULL) {
        SAY("%s: libpq is not loaded\n", name);
        return NULL;
    }
    parse_fn parse = (parse_fn)libpq_symbol("PQconninfoParse", NULL);
    params_fn real_params = (params_fn)libpq_symbol(params_name, params_self);
    if (conninfo == NULL || parse == NULL || real_params == NULL)
        return real(conninfo);
    char *error = NULL;
    PQconninfoOption *options = parse(conninfo, &error);
    if (options == NULL) {
        freemem_fn freemem = (freemem_fn)libpq_symbol("PQfreemem", NULL);
        if (error != NULL && freemem)
            freemem(error);
        return real(conninfo); /* libpq reports the syntax error */
    }
    size_t n = 0;
    for (PQconninfoOption *o = options; o->keyword != NULL; o++)
        n++;
    const char **k = calloc(n + 1, sizeof *k);
    const char **v = calloc(n + 1, sizeof *v);
    struct target t = {0};
    size_t used = 0;
    if (k != NULL && v != NULL) {
        for (PQconninfoOption *o = options; o->keyword != NULL; o++) {
            if (o->val == NULL)
                continue;
            k[used] = o->keyword;
            v[used] = o->val;
            used++;
            take(&t, o->keyword, o->val);
        }
    }
    struct tls_settings tls;
    char *token = (k != NULL && v != NULL) ? token_for(&t, name, &tls) : NULL;
    PGconn *conn = token ? call_with_token(real_params, k, v, 0, token, &tls) : real(conninfo);
    iam_token_free(token);
    free(k);
    free(v);
    options_free_fn options_free = (options_free_fn)libpq_symbol("PQconninfoFree", NULL);
    if (options_free)
        options_free(options);
    return conn;
}

/* ---- the interposed functions ------------------------------------------------------------ */

EXPORT PGconn *PQconnectdbParams(const char *const *keywords, const char *const *values,
                                 int expand_dbname)
{
    return connect_params("PQconnectdbParams", (void *)PQconnectdbParams, keywords, values,
                          expand_dbname);
}

EXPORT PGconn *PQconnectStartParams(const char *const *keywords, const char *const *values,
                                    int expand_dbname)
{
    return connect_params("PQconnectStartParams", (void *)PQconnectStartParams, keywords, values,
                          expand_dbname);
}

EXPORT PGconn *PQconnectdb(const char *conninfo)
{
    return connect_conninfo("PQconnectdb", (void *)PQconnectdb, "PQconnectdbParams",
                            (void *)PQconnectdbParams, conninfo);
}

EXPORT PGconn *PQconnectStart(const char *conninfo)
{
    return connect_conninfo("PQconnectStart", (void *)PQconnectStart, "PQconnectStartParams",
                            (void *)PQconnectStartParams, conninfo);
}

EXPORT PGconn *PQsetdbLogin(const char *pghost, const char *pgport, const char *pgoptions,
                            const char *pgtty, const char *dbName, const char *login, const char *pwd)
{
    setdb_fn real = (setdb_fn)libpq_symbol("PQsetdbLogin", (void *)PQsetdbLogin);
    params_fn real_params = (params_fn)libpq_symbol("PQconnectdbParams", (void *)PQconnectdbParams);
    if (real == NULL) {
        SAY("PQsetdbLogin: libpq is not loaded\n");
        return NULL;
    }
    if (real_params == NULL)
        return real(pghost, pgport, pgoptions, pgtty, dbName, login, pwd);
    /* What PQsetdbLogin means, as parameters. libpq (fe-connect.c) reads a connection string
     * in dbName first, then lets each non-empty explicit argument override it; expanded in
     * place, dbName first, the later keywords win the same way (empty values are ignored). */
    const char *keywords[] = {"dbname", "host", "port", "options", "user", "password", NULL};
    const char *values[] = {dbName, pghost, pgport, pgoptions, login, pwd, NULL};
    struct target t = {0};
    PQconninfoOption *parsed = NULL;
    read_params(&t, keywords, values, 1, &parsed);
    struct tls_settings tls;
    char *token = token_for(&t, "PQsetdbLogin", &tls);
    PGconn *conn = token ? call_with_token(real_params, keywords, values, 1, token, &tls)
                         : real(pghost, pgport, pgoptions, pgtty, dbName, login, pwd);
    iam_token_free(token);
    if (parsed != NULL) {
        options_free_fn options_free = (options_free_fn)libpq_symbol("PQconninfoFree", NULL);
        if (options_free)
            options_free(parsed);
    }
    return conn;
}
