/*
 * The C rows of the bad-input table (docs/bad-input.md): every entry point against NULLs, empty strings,
 * invalid UTF-8, 1 MB strings, embedded NULs (what the length-less API sees: the string ends
 * at the first NUL), malformed hosts, unknown and malformed regions, garbage profile names and
 * malformed options structures. Every call must return (no crash, no hang), report a code and
 * a bounded message, and never leak the secret key into a message.
 *
 * Run like test_api (demo credentials in the environment, no AWS files, metadata disabled):
 * scripts/tests/40-c-api.sh runs it directly and under valgrind, 44-sanitizers.sh under
 * ASan+UBSan. Each CHECK prints "ok"/"FAIL" and the row's name; "N passed, N failed" at the end.
 */
#define _POSIX_C_SOURCE 200809L
#include "iam_db_auth.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int passed, failed;

#define CHECK(cond, what)                                                                    \
    do {                                                                                     \
        if (cond) {                                                                          \
            passed++;                                                                        \
            printf("ok   %s\n", what);                                                      \
        } else {                                                                             \
            failed++;                                                                        \
            printf("FAIL %s (%s:%d: %s) code=%d msg=%.300s\n", what, __FILE__, __LINE__,    \
                   #cond, (int)iam_last_error_code(), iam_last_error_message());             \
        }                                                                                    \
    } while (0)

static const char *RDS = "mydb.c9akciq32.us-east-1.rds.amazonaws.com";
/* Messages quote at most a short, escaped prefix of an input. */
#define MAX_MESSAGE 1024

static int message_ok(void) {
    const char *m = iam_last_error_message();
    const char *secret = getenv("AWS_SECRET_ACCESS_KEY");
    return m != NULL && strlen(m) > 0 && strlen(m) <= MAX_MESSAGE &&
           (secret == NULL || strstr(m, secret) == NULL);
}

/* A failure with `code` whose message contains `needle`, is bounded and holds no secret. */
static void expect_error(char *token, iam_error code, const char *needle, const char *what) {
    CHECK(token == NULL && iam_last_error_code() == code && message_ok() &&
              strstr(iam_last_error_message(), needle) != NULL,
          what);
    iam_token_free(token);
}

/* A token (checked to contain `needle`), with the last error reset to OK and "". */
static void expect_token(char *token, const char *needle, const char *what) {
    CHECK(token != NULL && strstr(token, needle) != NULL && iam_last_error_code() == IAM_ERROR_OK &&
              strcmp(iam_last_error_message(), "") == 0,
          what);
    iam_token_free(token);
}

static iam_token_options base(void) {
    iam_token_options o;
    iam_token_options_init(&o);
    o.host = RDS;
    o.port = 5432;
    o.user = "app";
    o.flags = IAM_FLAG_NO_CACHE;
    return o;
}

static void nulls(void) {
    expect_error(iam_token_get(NULL, 5432, NULL, "app"), IAM_ERROR_NULL_ARGUMENT, "host is NULL", "NULL host");
    expect_error(iam_token_get(RDS, 5432, NULL, NULL), IAM_ERROR_NULL_ARGUMENT, "user is NULL", "NULL user");
    expect_token(iam_token_get(RDS, 5432, NULL, "app"), "%2Fus-east-1%2F", "NULL region: inferred from the host");
    expect_error(iam_token_get_ext(NULL), IAM_ERROR_NULL_ARGUMENT, "options is NULL", "NULL options");
    iam_token_options o = base();
    o.host = NULL;
    expect_error(iam_token_get_ext(&o), IAM_ERROR_NULL_ARGUMENT, "host is NULL", "options: NULL host");
    o = base();
    o.user = NULL;
    expect_error(iam_token_get_ext(&o), IAM_ERROR_NULL_ARGUMENT, "user is NULL", "options: NULL user (RDS)");
    o = base();
    o.kind = IAM_KIND_DSQL;
    o.host = "abcdefghijklmnopqrst.dsql.us-east-1.on.aws";
    o.user = NULL;
    expect_token(iam_token_get_ext(&o), "Action=DbConnect&", "options: NULL user (DSQL, which signs no user)");
    o = base();
    o.profile = NULL;
    o.signing_host = NULL;
    o.region = NULL;
    expect_token(iam_token_get_ext(&o), "DBUser=app", "options: NULL profile, signing host, region: unset");
    iam_token_options_init(NULL);
    CHECK(1, "iam_token_options_init(NULL): nothing happens");
    iam_token_free(NULL);
    CHECK(1, "iam_token_free(NULL): nothing happens");
}

static void empty_strings(void) {
    expect_error(iam_token_get("", 5432, NULL, "app"), IAM_ERROR_INVALID_HOST, "host is empty", "empty host");
    expect_error(iam_token_get(RDS, 5432, NULL, ""), IAM_ERROR_INVALID_USER, "user is empty", "empty user");
    expect_token(iam_token_get(RDS, 5432, "", "app"), "%2Fus-east-1%2F", "empty region: as NULL, inferred");
    iam_token_options o = base();
    o.profile = "";
    o.signing_host = "";
    expect_token(iam_token_get_ext(&o), RDS, "options: empty profile and signing host: as NULL");
}

static void invalid_utf8(void) {
    expect_error(iam_token_get("db\xff.example.com", 5432, "us-east-1", "app"), IAM_ERROR_INVALID_UTF8,
                 "host is not valid UTF-8 (invalid byte at offset 2)", "invalid UTF-8 host (offset named)");
    expect_error(iam_token_get(RDS, 5432, NULL, "ap\xc3"), IAM_ERROR_INVALID_UTF8, "user is not valid UTF-8",
                 "invalid UTF-8 user (truncated sequence)");
    expect_error(iam_token_get(RDS, 5432, "us-\xed\xa0\x80", "app"), IAM_ERROR_INVALID_UTF8,
                 "region is not valid UTF-8", "invalid UTF-8 region (a surrogate)");
    iam_token_options o = base();
    o.profile = "prof\xc0\xaf";
    expect_error(iam_token_get_ext(&o), IAM_ERROR_INVALID_UTF8, "profile is not valid UTF-8", "invalid UTF-8 profile (overlong)");
    o = base();
    o.signing_host = "\x80";
    expect_error(iam_token_get_ext(&o), IAM_ERROR_INVALID_UTF8, "signing_host is not valid UTF-8", "invalid UTF-8 signing host");
}

static char *megabyte(char fill) {
    size_t n = 1 << 20;
    char *s = malloc(n + 1);
    if (s != NULL) {
        memset(s, fill, n);
        s[n] = '\0';
    }
    return s;
}

static void one_megabyte(void) {
    char *big = megabyte('a');
    if (big == NULL) {
        CHECK(0, "allocate 1 MB");
        return;
    }
    expect_error(iam_token_get(big, 5432, "us-east-1", "app"), IAM_ERROR_INVALID_HOST, "1048576 bytes long",
                 "1 MB host: refused by length, message bounded");
    expect_error(iam_token_get(RDS, 5432, NULL, big), IAM_ERROR_INVALID_USER, "1048576 bytes long",
                 "1 MB user: refused by length, message bounded");
    expect_error(iam_token_get(RDS, 5432, big, "app"), IAM_ERROR_INVALID_REGION, "(1048576 bytes)",
                 "1 MB region: refused, quoted shortened");
    iam_token_options o = base();
    o.profile = big;
    expect_error(iam_token_get_ext(&o), IAM_ERROR_INVALID_PROFILE, "(1048576 bytes)", "1 MB profile: refused, quoted shortened");
    o = base();
    o.signing_host = big;
    expect_error(iam_token_get_ext(&o), IAM_ERROR_INVALID_HOST, "signing host: host is 1048576 bytes long",
                 "1 MB signing host: refused by length");
    /* A megabyte of multi-byte characters: the quoted prefix is cut on a character boundary. */
    for (size_t i = 0; i + 1 < (1u << 20); i += 2) {
        big[i] = (char)0xc3;
        big[i + 1] = (char)0xa9; /* é */
    }
    expect_error(iam_token_get(RDS, 5432, big, "app"), IAM_ERROR_INVALID_REGION, "bytes)",
                 "1 MB of 'é' as region: quoted prefix cut on a character boundary");
    free(big);
}

static void embedded_nul(void) {
    /* The length-less API sees a C string up to its first NUL: the rest is never read. */
    static const char host[] = "mydb.c9akciq32.us-east-1.rds.amazonaws.com\0.evil.example";
    static const char user[] = "app\0root";
    char *token = iam_token_get(host, 5432, NULL, user);
    CHECK(token != NULL && strstr(token, ".evil") == NULL && strstr(token, "DBUser=app&") != NULL &&
              strstr(token, "root") == NULL,
          "embedded NUL in host and user: the token is for the part before the NUL");
    iam_token_free(token);
    static const char region[] = "\0us-west-2";
    expect_token(iam_token_get(RDS, 5432, region, "app"), "%2Fus-east-1%2F",
                 "region starting with NUL: empty, so inferred from the host");
}

static void hosts(void) {
    struct {
        const char *host, *needle, *what;
    } rows[] = {
        {"https://db.example.com", "URL scheme", "host with a scheme"},
        {"db.example.com/app", "path or query", "host with a path"},
        {"db.example.com?x=1", "path or query", "host with a query"},
        {"db.example.com:5432", "contains a port", "host with a port"},
        {"db .example.com", "whitespace", "host with a space"},
        {" db.example.com", "whitespace", "host with a leading space"},
        {"db.example.com\t", "whitespace", "host with a tab"},
        {"user@db.example.com", "'@'", "host with userinfo"},
        {"db..example.com", "empty label", "host with an empty label"},
        {"db.example.com.", "empty label", "host with a trailing dot"},
        {"::1", "in brackets", "IPv6 address without brackets"},
        {"[::1", "bracketed IPv6", "unclosed IPv6 bracket"},
        {"db.exämple.com", "punycode", "non-ASCII host"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        expect_error(iam_token_get(rows[i].host, 5432, "us-east-1", "app"), IAM_ERROR_INVALID_HOST, rows[i].needle,
                     rows[i].what);
    }
    expect_token(iam_token_get("[::1]", 5432, "us-east-1", "app"), "[::1]:5432/?", "bracketed IPv6 host: accepted");
    expect_error(iam_token_get(RDS, 0, NULL, "app"), IAM_ERROR_INVALID_PORT, "port is 0", "port 0");
}

static void regions(void) {
    expect_token(iam_token_get(RDS, 5432, "xx-mars-7", "app"), "%2Fxx-mars-7%2Frds-db%2F",
                 "unknown but well-formed region: signed for as given");
    expect_error(iam_token_get(RDS, 5432, "Mars", "app"), IAM_ERROR_INVALID_REGION, "not a region name", "malformed region");
    expect_error(iam_token_get(RDS, 5432, "us-east-1 ", "app"), IAM_ERROR_INVALID_REGION, "not a region name",
                 "region with a trailing space");
    expect_error(iam_token_get("db.internal", 5432, NULL, "app"), IAM_ERROR_REGION_NOT_FOUND, "AWS_REGION",
                 "no region anywhere: an error, never a default");
}

static void profiles(void) {
    iam_token_options o = base();
    o.profile = "a]b";
    expect_error(iam_token_get_ext(&o), IAM_ERROR_INVALID_PROFILE, "cannot name a profile", "garbage profile name");
    o.profile = " dbs";
    expect_error(iam_token_get_ext(&o), IAM_ERROR_INVALID_PROFILE, "cannot name a profile", "profile name with a leading space");
    o.profile = "no-such-profile";
    expect_error(iam_token_get_ext(&o), IAM_ERROR_NO_CREDENTIALS, "no-such-profile",
                 "well-formed profile that does not exist: no credentials, the profile named");
}

static void options(void) {
    iam_token_options o = base();
    o.struct_size = 0;
    expect_error(iam_token_get_ext(&o), IAM_ERROR_INVALID_OPTIONS, "struct_size is 0", "struct_size 0");
    o = base();
    o.struct_size = 4;
    expect_error(iam_token_get_ext(&o), IAM_ERROR_INVALID_OPTIONS, "struct_size is 4", "struct_size 4");
    o = base();
    o.kind = 5;
    expect_error(iam_token_get_ext(&o), IAM_ERROR_INVALID_OPTIONS, "kind 5", "unknown kind");
    o.kind = UINT32_MAX;
    expect_error(iam_token_get_ext(&o), IAM_ERROR_INVALID_OPTIONS, "not one of the IAM_KIND_", "kind UINT32_MAX");
    o = base();
    o.flags = 1u << 31;
    expect_error(iam_token_get_ext(&o), IAM_ERROR_INVALID_OPTIONS, "unknown flags 0x80000000", "unknown flag bit");
    o = base();
    o.kind = IAM_KIND_DSQL;
    o.host = "abcdefghijklmnopqrst.dsql.us-east-1.on.aws";
    o.expires_in = 604801;
    expect_error(iam_token_get_ext(&o), IAM_ERROR_INVALID_EXPIRY, "1 to 604800", "DSQL lifetime above 7 days");
    o.expires_in = UINT32_MAX;
    expect_error(iam_token_get_ext(&o), IAM_ERROR_INVALID_EXPIRY, "4294967295", "lifetime UINT32_MAX");
    o = base();
    o.signing_port = 0;
    o.port = 0;
    expect_error(iam_token_get_ext(&o), IAM_ERROR_INVALID_PORT, "port is 0", "port and signing port 0");
}

static void error_codes(void) {
    int unknown[] = {-1, 12, 100, 12345, INT_MIN, INT_MAX};
    int ok = 1;
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        ok = ok && strcmp(iam_error_code_message(unknown[i]), "unknown error code") == 0;
    }
    CHECK(ok, "iam_error_code_message of unknown codes: \"unknown error code\"");
    int known[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 20, 21, 22, 23, 30, 99};
    ok = 1;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        const char *m = iam_error_code_message(known[i]);
        ok = ok && m != NULL && strlen(m) > 0 && strcmp(m, "unknown error code") != 0;
    }
    CHECK(ok, "iam_error_code_message of every defined code: its description");
    CHECK(iam_version() != NULL && strlen(iam_version()) > 0, "iam_version: a static string");
    iam_cache_clear();
    iam_cache_clear();
    CHECK(iam_last_error_code() == IAM_ERROR_OK, "iam_cache_clear twice: fine");
}

static void *fresh_thread(void *arg) {
    (void)arg;
    int ok = iam_last_error_code() == IAM_ERROR_OK && iam_last_error_message() != NULL &&
             strcmp(iam_last_error_message(), "") == 0;
    return ok ? (void *)1 : NULL;
}

static void last_error_on_a_fresh_thread(void) {
    /* Another thread's failure is not visible here, and a thread that never called sees OK. */
    char *t = iam_token_get(NULL, 1, NULL, NULL);
    iam_token_free(t);
    pthread_t th;
    void *ok = NULL;
    pthread_create(&th, NULL, fresh_thread, NULL);
    pthread_join(th, &ok);
    CHECK(ok != NULL, "last error on a thread that never called: IAM_ERROR_OK and \"\", never NULL");
}

/* The same-call error shape: iam_token_create and the sized initialiser with bad arguments. */
static void create_and_init_sized(void) {
    iam_token_options o;
    CHECK(iam_token_options_init_sized(NULL, sizeof o) == IAM_ERROR_NULL_ARGUMENT,
          "iam_token_options_init_sized(NULL): IAM_ERROR_NULL_ARGUMENT");
    size_t sizes[] = {0, 4, sizeof(void *), sizeof o - 8, sizeof o + 4 - 8};
    int refused = 1;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        refused &= iam_token_options_init_sized(&o, sizes[i]) == IAM_ERROR_INVALID_OPTIONS && message_ok();
    }
    CHECK(refused, "iam_token_options_init_sized with a size no header had: IAM_ERROR_INVALID_OPTIONS");

    char *token = NULL;
    iam_failure *failure = NULL;
    CHECK(iam_token_create(NULL, &token, &failure) == IAM_ERROR_NULL_ARGUMENT && token == NULL &&
              iam_failure_code(failure) == IAM_ERROR_NULL_ARGUMENT &&
              strstr(iam_failure_message(failure), "options is NULL") != NULL,
          "iam_token_create: NULL options, in the failure");
    iam_failure_free(failure);
    o = base();
    failure = NULL;
    CHECK(iam_token_create(&o, NULL, &failure) == IAM_ERROR_NULL_ARGUMENT &&
              strstr(iam_failure_message(failure), "token_out is NULL") != NULL,
          "iam_token_create: NULL token_out");
    iam_failure_free(failure);
    o.host = "";
    CHECK(iam_token_create(&o, &token, NULL) == IAM_ERROR_INVALID_HOST && token == NULL && message_ok(),
          "iam_token_create: failing with NULL failure_out: the code, nothing written");
    o = base();
    o.struct_size = 4;
    failure = NULL;
    CHECK(iam_token_create(&o, &token, &failure) == IAM_ERROR_INVALID_OPTIONS && token == NULL &&
              strstr(iam_failure_message(failure), "struct_size is 4") != NULL,
          "iam_token_create: struct_size 4");
    iam_failure_free(failure);
    CHECK(iam_failure_code(NULL) == IAM_ERROR_OK && strcmp(iam_failure_message(NULL), "") == 0,
          "iam_failure_code / iam_failure_message of NULL: IAM_ERROR_OK and \"\"");
    iam_failure_free(NULL);
    CHECK(1, "iam_failure_free(NULL): nothing happens");
}

int main(void) {
    nulls();
    empty_strings();
    invalid_utf8();
    one_megabyte();
    embedded_nul();
    hosts();
    regions();
    profiles();
    options();
    create_and_init_sized();
    error_codes();
    last_error_on_a_fresh_thread();
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
