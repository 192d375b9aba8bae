/*
 * The C ABI against the committed header and the real shared library.
 *
 * Run with demo credentials in the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY),
 * AWS_REGION unset, and the metadata endpoint disabled (scripts/tests/40-c-api.sh does this).
 * Prints one line per check, the tokens it made to the file named by argv[1] (one per line,
 * for the verifier), and "N passed, N failed" at the end; exits non-zero on any failure.
 */
#define _POSIX_C_SOURCE 200809L
#include "iam_db_auth.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int passed, failed;
static FILE *tokens_out;

#define CHECK(cond, what)                                                      \
    do {                                                                       \
        if (cond) {                                                            \
            passed++;                                                          \
            printf("ok   %s\n", what);                                         \
        } else {                                                               \
            failed++;                                                          \
            printf("FAIL %s (%s:%d: %s) code=%d msg=%s\n", what, __FILE__,     \
                   __LINE__, #cond, (int)iam_last_error_code(),                \
                   iam_last_error_message());                                  \
        }                                                                      \
    } while (0)

static const char *RDS_HOST = "mydb.c9akciq32.us-east-1.rds.amazonaws.com";

/* Expects failure with `code` and a message containing `needle`. */
static void expect_error(char *token, iam_error code, const char *needle, const char *what) {
    int ok = token == NULL && iam_last_error_code() == code &&
             strstr(iam_last_error_message(), needle) != NULL;
    CHECK(ok, what);
    iam_token_free(token);
}

static int starts_with(const char *text, const char *prefix) {
    return text != NULL && strncmp(text, prefix, strlen(prefix)) == 0;
}

static void keep(char *token) {
    if (token != NULL && tokens_out != NULL) {
        fprintf(tokens_out, "%s\n", token);
    }
}

static void test_basic(void) {
    char *token = iam_token_get(RDS_HOST, 5432, NULL, "app_user");
    CHECK(token != NULL, "token for an RDS endpoint, region inferred");
    CHECK(iam_last_error_code() == IAM_ERROR_OK, "success leaves IAM_ERROR_OK");
    CHECK(strcmp(iam_last_error_message(), "") == 0, "success leaves an empty message");
    if (token != NULL) {
        const char *prefix = "mydb.c9akciq32.us-east-1.rds.amazonaws.com:5432/?Action=connect&DBUser=app_user&";
        CHECK(starts_with(token, prefix), "token starts with host:port/?Action=connect&DBUser=");
        CHECK(strstr(token, "%2Fus-east-1%2Frds-db%2Faws4_request") != NULL, "scope names the inferred region");
        CHECK(strstr(token, "X-Amz-Expires=900&") != NULL, "X-Amz-Expires is 900");
        keep(token);
    }
    char *again = iam_token_get(RDS_HOST, 5432, "", "app_user");
    CHECK(again != NULL && token != NULL && strcmp(again, token) == 0,
          "a second call returns the cached token (\"\" region means infer)");
    iam_token_free(again);
    iam_token_free(token);

    char *explicit_region = iam_token_get("db.internal", 3306, "eu-west-1", "app_user");
    CHECK(explicit_region != NULL && strstr(explicit_region, "%2Feu-west-1%2F") != NULL,
          "explicit region for a host that carries none");
    keep(explicit_region);
    iam_token_free(explicit_region);

    iam_token_free(NULL);
    CHECK(1, "iam_token_free(NULL) is harmless");
    CHECK(iam_version() != NULL && strlen(iam_version()) > 0, "iam_version is a string");
}

static void test_bad_input(void) {
    char long_host[300];
    memset(long_host, 'a', sizeof long_host - 1);
    long_host[sizeof long_host - 1] = '\0';

    expect_error(iam_token_get(NULL, 5432, NULL, "u"), IAM_ERROR_NULL_ARGUMENT, "host is NULL", "NULL host");
    expect_error(iam_token_get(RDS_HOST, 5432, NULL, NULL), IAM_ERROR_NULL_ARGUMENT, "user is NULL", "NULL user");
    expect_error(iam_token_get("", 5432, NULL, "u"), IAM_ERROR_INVALID_HOST, "host is empty", "empty host");
    expect_error(iam_token_get(RDS_HOST, 5432, NULL, ""), IAM_ERROR_INVALID_USER, "user is empty", "empty user");
    expect_error(iam_token_get("db\xff.example.com", 5432, "us-east-1", "u"), IAM_ERROR_INVALID_UTF8, "not valid UTF-8", "invalid UTF-8 host");
    expect_error(iam_token_get(RDS_HOST, 5432, NULL, "us\xc3"), IAM_ERROR_INVALID_UTF8, "user is not valid UTF-8", "invalid UTF-8 user");
    expect_error(iam_token_get(RDS_HOST, 5432, "us-east-\xff", "u"), IAM_ERROR_INVALID_UTF8, "region is not valid UTF-8", "invalid UTF-8 region");
    expect_error(iam_token_get(long_host, 5432, "us-east-1", "u"), IAM_ERROR_INVALID_HOST, "at most 253", "host longer than 253 bytes");
    expect_error(iam_token_get("https://db.example.com", 5432, "us-east-1", "u"), IAM_ERROR_INVALID_HOST, "scheme", "host with a scheme");
    expect_error(iam_token_get("db.example.com/app", 5432, "us-east-1", "u"), IAM_ERROR_INVALID_HOST, "path", "host with a path");
    expect_error(iam_token_get("db .example.com", 5432, "us-east-1", "u"), IAM_ERROR_INVALID_HOST, "whitespace", "host with a space");
    expect_error(iam_token_get("db.example.com:5432", 5432, "us-east-1", "u"), IAM_ERROR_INVALID_HOST, "contains a port", "host with a port");
    expect_error(iam_token_get(RDS_HOST, 0, NULL, "u"), IAM_ERROR_INVALID_PORT, "port is 0", "port 0");
    expect_error(iam_token_get("db.example.com", 5432, "Mars-1", "u"), IAM_ERROR_INVALID_REGION, "not a region name", "a region that is not a region name");
    expect_error(iam_token_get("db.internal", 5432, NULL, "u"), IAM_ERROR_REGION_NOT_FOUND, "AWS_REGION", "no region anywhere is an error, not a default");
}

static void test_options(void) {
    iam_token_options opts;
    iam_token_options_init(&opts);
    CHECK(opts.struct_size == sizeof opts && opts.kind == IAM_KIND_RDS && opts.host == NULL && opts.flags == 0,
          "iam_token_options_init sets size and defaults");
    iam_token_options_init(NULL);
    CHECK(1, "iam_token_options_init(NULL) is harmless");

    opts.host = "127.0.0.1";
    opts.port = 13306;
    opts.user = "app_user";
    opts.signing_host = RDS_HOST;
    opts.signing_port = 3306;
    opts.flags = IAM_FLAG_NO_CACHE;
    char *token = iam_token_get_ext(&opts);
    CHECK(starts_with(token, "mydb.c9akciq32.us-east-1.rds.amazonaws.com:3306/?"),
          "signing host and port override the connect address");
    keep(token);
    iam_token_free(token);

    iam_token_options dsql;
    iam_token_options_init(&dsql);
    dsql.kind = IAM_KIND_DSQL_ADMIN;
    dsql.host = "abcdefghijklmnopqrst.dsql.us-east-1.on.aws";
    dsql.expires_in = 3600;
    token = iam_token_get_ext(&dsql);
    CHECK(starts_with(token, "abcdefghijklmnopqrst.dsql.us-east-1.on.aws/?Action=DbConnectAdmin&") &&
              strstr(token, "X-Amz-Expires=3600&") != NULL && strstr(token, "%2Fdsql%2Faws4_request") != NULL,
          "DSQL admin token: no port, no user, 3600 s");
    iam_token_free(token);

    expect_error(iam_token_get_ext(NULL), IAM_ERROR_NULL_ARGUMENT, "options is NULL", "NULL options");
    iam_token_options small = opts;
    small.struct_size = 8;
    expect_error(iam_token_get_ext(&small), IAM_ERROR_INVALID_OPTIONS, "struct_size", "struct_size too small");
    iam_token_options bad_kind = opts;
    bad_kind.kind = 42;
    expect_error(iam_token_get_ext(&bad_kind), IAM_ERROR_INVALID_OPTIONS, "kind 42", "unknown kind");
    iam_token_options bad_flags = opts;
    bad_flags.flags = 0x80;
    expect_error(iam_token_get_ext(&bad_flags), IAM_ERROR_INVALID_OPTIONS, "unknown flags", "unknown flags");
    iam_token_options rds_expiry = opts;
    rds_expiry.expires_in = 600;
    expect_error(iam_token_get_ext(&rds_expiry), IAM_ERROR_INVALID_EXPIRY, "900", "RDS lifetime other than 900");
    iam_token_options serverless = opts;
    serverless.flags = IAM_FLAG_SERVERLESS;
    expect_error(iam_token_get_ext(&serverless), IAM_ERROR_INVALID_OPTIONS, "serverless", "serverless on an RDS token");
    iam_token_options bad_profile = opts;
    bad_profile.profile = "a]b";
    expect_error(iam_token_get_ext(&bad_profile), IAM_ERROR_INVALID_PROFILE, "a]b", "unusable profile name");

    /* A caller built against a newer header: a larger struct is fine while the tail is zero. */
    struct {
        iam_token_options base;
        uint64_t future_field;
    } newer;
    memset(&newer, 0, sizeof newer);
    newer.base = opts;
    newer.base.struct_size = sizeof newer;
    token = iam_token_get_ext(&newer.base);
    CHECK(token != NULL, "larger struct with a zero tail is accepted");
    iam_token_free(token);
    newer.future_field = 1;
    expect_error(iam_token_get_ext(&newer.base), IAM_ERROR_INVALID_OPTIONS, "does not know", "larger struct with a non-zero tail is refused");
}

static void test_error_codes(void) {
    CHECK(strcmp(iam_error_code_message(IAM_ERROR_OK), "no error") == 0, "message for IAM_ERROR_OK");
    CHECK(strstr(iam_error_code_message(IAM_ERROR_NO_CREDENTIALS), "credentials") != NULL, "message for NO_CREDENTIALS");
    CHECK(strcmp(iam_error_code_message(12345), "unknown error code") == 0, "message for an unknown code");
    CHECK(strcmp(iam_error_code_message(-1), "unknown error code") == 0, "message for a negative code");
}

#define THREADS 8
#define CALLS 2000

static void *thread_main(void *arg) {
    long id = (long)arg;
    long ok = 0;
    char user[32];
    for (int i = 0; i < CALLS; i++) {
        /* Mix cache hits (same user) and misses (new users, no cache). */
        snprintf(user, sizeof user, "user%ld_%d", id, i % 4);
        iam_token_options o;
        iam_token_options_init(&o);
        o.host = RDS_HOST;
        o.port = 3306;
        o.user = user;
        o.flags = (i % 10 == 0) ? IAM_FLAG_NO_CACHE : 0;
        char *t = iam_token_get_ext(&o);
        if (t != NULL && strstr(t, user) != NULL && iam_last_error_code() == IAM_ERROR_OK) {
            ok++;
        }
        iam_token_free(t);
        /* The last error is per thread: a failure here must not leak into other threads. */
        if (i % 100 == 0) {
            char *bad = iam_token_get(NULL, 1, NULL, "u");
            if (bad == NULL && iam_last_error_code() == IAM_ERROR_NULL_ARGUMENT) {
                ok++;
            }
        }
    }
    return (void *)ok;
}

static void test_threads(void) {
    pthread_t threads[THREADS];
    for (long i = 0; i < THREADS; i++) {
        pthread_create(&threads[i], NULL, thread_main, (void *)i);
    }
    long total = 0;
    for (int i = 0; i < THREADS; i++) {
        void *ok;
        pthread_join(threads[i], &ok);
        total += (long)ok;
    }
    long expected = (long)THREADS * (CALLS + CALLS / 100);
    CHECK(total == expected, "8 threads x 2000 calls: every call succeeded, errors stayed per thread");
}

static void test_fork(void) {
    char *parent = iam_token_get(RDS_HOST, 5432, NULL, "fork_user");
    CHECK(parent != NULL, "parent makes a token before fork");
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        char *child = iam_token_get(RDS_HOST, 5432, NULL, "fork_child");
        int good = child != NULL && strstr(child, "DBUser=fork_child") != NULL;
        iam_token_free(child);
        iam_token_free(parent); /* the child's copy: leak checkers follow the child too */
        _exit(good ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the forked child makes a token");
    char *after = iam_token_get(RDS_HOST, 5432, NULL, "fork_user");
    CHECK(after != NULL && parent != NULL && strcmp(after, parent) == 0, "the parent still has its cache after fork");
    iam_token_free(after);
    iam_token_free(parent);
}

int main(int argc, char **argv) {
    tokens_out = argc > 1 ? fopen(argv[1], "w") : NULL;
    test_basic();
    test_bad_input();
    test_options();
    test_error_codes();
    test_threads();
    test_fork();
    if (tokens_out != NULL) {
        fclose(tokens_out);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
