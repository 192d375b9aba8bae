/*
 * An old program: written and compiled against the 0.1 header (iam_db_auth-0.1.h, frozen),
 * run against the current library. Every 0.1 function, with the behaviour 0.1 documented,
 * must keep working for it (docs/c-api.md, "ABI policy").
 *
 * Run like c-tests/test_api.c (demo credentials in the environment, no AWS files, metadata
 * disabled; scripts/tests/40-c-api.sh). Writes its tokens to argv[1] for the verifier; prints
 * one line per check and "N passed, N failed".
 */
#define _POSIX_C_SOURCE 200809L
#include "iam_db_auth-0.1.h"

#include <stdio.h>
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
            printf("FAIL %s (%s:%d: %s) code=%d msg=%s\n", what, __FILE__, __LINE__, #cond, \
                   (int)iam_last_error_code(), iam_last_error_message());                    \
        }                                                                                    \
    } while (0)

static const char *RDS_HOST = "mydb.c9akciq32.us-east-1.rds.amazonaws.com";

static int starts_with(const char *text, const char *prefix) {
    return text != NULL && strncmp(text, prefix, strlen(prefix)) == 0;
}

static void keep(char *token) {
    if (token != NULL && tokens_out != NULL) {
        fprintf(tokens_out, "%s\n", token);
    }
    iam_token_free(token);
}

/* 0.1's options struct with whatever the program's memory holds after it. */
union padded_options {
    iam_token_options options;
    unsigned char bytes[sizeof(iam_token_options) + 64];
};

static void test_simple_call(void) {
    char *token = iam_token_get(RDS_HOST, 5432, NULL, "old_user");
    CHECK(starts_with(token, "mydb.c9akciq32.us-east-1.rds.amazonaws.com:5432/?Action=connect&DBUser=old_user&"),
          "iam_token_get makes a token");
    CHECK(iam_last_error_code() == IAM_ERROR_OK && strcmp(iam_last_error_message(), "") == 0,
          "success leaves IAM_ERROR_OK and an empty message");
    keep(token);
    CHECK(iam_version() != NULL && iam_version()[0] != '\0', "iam_version is a string");
}

static void test_options_init_writes_only_the_old_size(void) {
    union padded_options memory;
    memset(memory.bytes, 0xA5, sizeof memory.bytes);
    iam_token_options_init(&memory.options);
    CHECK(memory.options.struct_size == sizeof(iam_token_options), "struct_size is the 0.1 size");
    CHECK(memory.options.kind == IAM_KIND_RDS && memory.options.host == NULL && memory.options.port == 0 &&
              memory.options.region == NULL && memory.options.user == NULL && memory.options.profile == NULL &&
              memory.options.signing_host == NULL && memory.options.signing_port == 0 &&
              memory.options.expires_in == 0 && memory.options.flags == 0,
          "every 0.1 field has its default");
    int untouched = 1;
    for (size_t i = sizeof(iam_token_options); i < sizeof memory.bytes; i++) {
        untouched &= memory.bytes[i] == 0xA5;
    }
    CHECK(untouched, "nothing after the 0.1 struct is written");
}

static void test_options_call(void) {
    union padded_options memory;
    /* Whatever follows the caller's struct must not be read: make it garbage. */
    memset(memory.bytes, 0xFF, sizeof memory.bytes);
    iam_token_options_init(&memory.options);
    memory.options.host = "127.0.0.1";
    memory.options.port = 13306;
    memory.options.user = "old_user";
    memory.options.signing_host = RDS_HOST;
    memory.options.signing_port = 3306;
    memory.options.flags = IAM_FLAG_NO_CACHE;
    char *token = iam_token_get_ext(&memory.options);
    CHECK(starts_with(token, "mydb.c9akciq32.us-east-1.rds.amazonaws.com:3306/?Action=connect&DBUser=old_user&") &&
              strstr(token, "X-Amz-Expires=900&") != NULL,
          "iam_token_get_ext reads the 0.1 struct and nothing after it");
    keep(token);

    iam_token_options dsql;
    iam_token_options_init(&dsql);
    dsql.kind = IAM_KIND_DSQL;
    dsql.host = "abcdefghijklmnopqrst.dsql.us-east-1.on.aws";
    dsql.expires_in = 3600;
    token = iam_token_get_ext(&dsql);
    CHECK(starts_with(token, "abcdefghijklmnopqrst.dsql.us-east-1.on.aws/?Action=DbConnect&") &&
              strstr(token, "X-Amz-Expires=3600&") != NULL,
          "a DSQL token through the 0.1 struct");
    iam_token_free(token);
}

static void test_errors(void) {
    char *token = iam_token_get(NULL, 5432, NULL, "u");
    CHECK(token == NULL && iam_last_error_code() == IAM_ERROR_NULL_ARGUMENT &&
              strstr(iam_last_error_message(), "host is NULL") != NULL,
          "a NULL host: NULL, IAM_ERROR_NULL_ARGUMENT, a message");
    token = iam_token_get("db.internal", 5432, NULL, "u");
    CHECK(token == NULL && iam_last_error_code() == IAM_ERROR_REGION_NOT_FOUND,
          "no region: IAM_ERROR_REGION_NOT_FOUND (same number as in 0.1)");
    iam_token_options options;
    iam_token_options_init(&options);
    options.host = RDS_HOST;
    options.port = 5432;
    options.user = "u";
    options.kind = 42;
    CHECK(iam_token_get_ext(&options) == NULL && iam_last_error_code() == IAM_ERROR_INVALID_OPTIONS,
          "an unknown kind: IAM_ERROR_INVALID_OPTIONS");
    CHECK(strcmp(iam_error_code_message(IAM_ERROR_OK), "no error") == 0 &&
              strcmp(iam_error_code_message(12345), "unknown error code") == 0,
          "iam_error_code_message");
    iam_cache_clear();
    CHECK(iam_last_error_code() == IAM_ERROR_OK, "iam_cache_clear");
}

int main(int argc, char **argv) {
    tokens_out = argc > 1 ? fopen(argv[1], "w") : NULL;
    printf("0.1 header, library %s\n", iam_version());
    test_simple_call();
    test_options_init_writes_only_the_old_size();
    test_options_call();
    test_errors();
    if (tokens_out != NULL) {
        fclose(tokens_out);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
