/*
 * A 1.0 program: written and compiled against the 1.0 header (iam_db_auth-1.0.h, frozen),
 * run against the current library. What 1.0 added (the version macros, the sized options
 * initialiser, iam_token_create and its failure object, iam_ca_file) must keep working for it
 * (docs/c-api.md, "ABI policy").
 *
 * Run like c-tests/test_api.c (demo credentials in the environment, no AWS files, metadata
 * disabled; scripts/tests/40-c-api.sh). Writes its tokens to argv[1] for the verifier; prints
 * one line per check and "N passed, N failed".
 */
#define _POSIX_C_SOURCE 200809L
#include "iam_db_auth-1.0.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int passed, failed;
static FILE *tokens_out;

#define CHECK(cond, what)                                                                    \
    do {                                                                                     \
        if (cond) {                                                                          \
            passed++;                                                                        \
            printf("ok   %s\n", what);                                                      \
        } else {                                                                             \
            failed++;                                                                        \
            printf("FAIL %s (%s:%d: %s)\n", what, __FILE__, __LINE__, #cond);               \
        }                                                                                    \
    } while (0)

static const char *RDS_HOST = "mydb.c9akciq32.us-east-1.rds.amazonaws.com";

static int starts_with(const char *text, const char *prefix) {
    return text != NULL && strncmp(text, prefix, strlen(prefix)) == 0;
}

static int at_least(unsigned have, unsigned wanted) {
    return have >= wanted;
}

static void test_versions(void) {
    char header[32];
    snprintf(header, sizeof header, "%d.%d.%d", IAM_DB_AUTH_VERSION_MAJOR, IAM_DB_AUTH_VERSION_MINOR,
             IAM_DB_AUTH_VERSION_PATCH);
    CHECK(strcmp(header, IAM_DB_AUTH_VERSION) == 0, "the version macros agree");
    unsigned major = 0, minor = 0, patch = 0;
    CHECK(sscanf(iam_version(), "%u.%u.%u", &major, &minor, &patch) == 3, "iam_version is MAJOR.MINOR.PATCH");
    CHECK(major == IAM_DB_AUTH_VERSION_MAJOR && at_least(minor, IAM_DB_AUTH_VERSION_MINOR),
          "the library is the header's major version, at least its minor");
}

static void test_create(void) {
    union {
        iam_token_options options;
        unsigned char bytes[sizeof(iam_token_options) + 32];
    } memory;
    memset(memory.bytes, 0xFF, sizeof memory.bytes);
    CHECK(IAM_TOKEN_OPTIONS_INIT(&memory.options) == IAM_ERROR_OK &&
              memory.options.struct_size == sizeof(iam_token_options),
          "IAM_TOKEN_OPTIONS_INIT records the 1.0 size");
    memory.options.host = RDS_HOST;
    memory.options.port = 5432;
    memory.options.user = "app_1_0";
    char *token = NULL;
    iam_failure *failure = NULL;
    iam_error code = iam_token_create(&memory.options, &token, &failure);
    CHECK(code == IAM_ERROR_OK && failure == NULL &&
              starts_with(token, "mydb.c9akciq32.us-east-1.rds.amazonaws.com:5432/?Action=connect&DBUser=app_1_0&"),
          "iam_token_create makes a token and leaves the failure NULL");
    if (token != NULL && tokens_out != NULL) {
        fprintf(tokens_out, "%s\n", token);
    }
    iam_token_free(token);

    iam_token_options dsql;
    IAM_TOKEN_OPTIONS_INIT(&dsql);
    dsql.kind = IAM_KIND_DSQL_ADMIN;
    dsql.host = "abcdefghijklmnopqrst.dsql.us-east-1.on.aws";
    dsql.expires_in = 7200;
    dsql.flags = IAM_FLAG_NO_CACHE;
    token = NULL;
    CHECK(iam_token_create(&dsql, &token, NULL) == IAM_ERROR_OK &&
              starts_with(token, "abcdefghijklmnopqrst.dsql.us-east-1.on.aws/?Action=DbConnectAdmin&") &&
              strstr(token, "X-Amz-Expires=7200&") != NULL,
          "a DSQL admin token; the failure out-parameter may be NULL");
    iam_token_free(token);
}

static void test_failure(void) {
    iam_token_options options;
    IAM_TOKEN_OPTIONS_INIT(&options);
    options.host = "https://db-1-0.example.com";
    options.port = 5432;
    options.user = "u";
    options.region = "us-east-1";
    char *token = (char *)"untouched";
    iam_failure *failure = NULL;
    iam_error code = iam_token_create(&options, &token, &failure);
    CHECK(code == IAM_ERROR_INVALID_HOST && failure != NULL && iam_failure_code(failure) == IAM_ERROR_INVALID_HOST &&
              strstr(iam_failure_message(failure), "'https://db-1-0.example.com' contains a URL scheme") != NULL,
          "a failure: its code returned and in the failure, with the whole message");
    CHECK(strcmp(token, "untouched") == 0, "the token out-parameter is not written on failure");
    iam_failure_free(failure);
    CHECK(iam_last_error_code() == IAM_ERROR_INVALID_HOST, "the per-thread error is set too");
    CHECK(iam_failure_code(NULL) == IAM_ERROR_OK && strcmp(iam_failure_message(NULL), "") == 0,
          "a NULL failure is no failure");
    iam_failure_free(NULL);

    failure = NULL;
    CHECK(iam_token_create(NULL, &token, &failure) == IAM_ERROR_NULL_ARGUMENT &&
              strstr(iam_failure_message(failure), "options is NULL") != NULL,
          "NULL options");
    iam_failure_free(failure);
    failure = NULL;
    CHECK(iam_token_create(&options, NULL, &failure) == IAM_ERROR_NULL_ARGUMENT &&
              strstr(iam_failure_message(failure), "token_out is NULL") != NULL,
          "NULL token_out");
    iam_failure_free(failure);
    iam_token_options *pointer = &options;
    CHECK(iam_token_options_init_sized(pointer, sizeof pointer) == IAM_ERROR_INVALID_OPTIONS,
          "the sized initialiser refuses sizeof of a pointer");
    CHECK(iam_token_options_init_sized(NULL, sizeof options) == IAM_ERROR_NULL_ARGUMENT,
          "the sized initialiser refuses NULL");
}

static void test_ca_file(void) {
    const char *ca = iam_ca_file();
    FILE *file = ca != NULL ? fopen(ca, "r") : NULL;
    CHECK(file != NULL, "iam_ca_file names a readable CA file");
    if (file != NULL) {
        fclose(file);
    }
}

int main(int argc, char **argv) {
    tokens_out = argc > 1 ? fopen(argv[1], "w") : NULL;
    printf("%s header, library %s\n", IAM_DB_AUTH_VERSION, iam_version());
    test_versions();
    test_create();
    test_failure();
    test_ca_file();
    if (tokens_out != NULL) {
        fclose(tokens_out);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
