/*
 * A program as a user of an installed iam-db-auth writes it: <iam_db_auth.h> from the include
 * path and the library from pkg-config (scripts/tests/65-install.sh builds it dynamically and
 * statically). Prints the library's version and the CA file it finds, and writes one token to
 * argv[1].
 */
#include <iam_db_auth.h>

#include <stdio.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: installed_app TOKEN_FILE\n");
        return 2;
    }
    iam_token_options options;
    if (IAM_TOKEN_OPTIONS_INIT(&options) != IAM_ERROR_OK) {
        return 1;
    }
    options.host = "mydb.c9akciq32.us-east-1.rds.amazonaws.com";
    options.port = 5432;
    options.user = "installed_app";
    char *token = NULL;
    iam_failure *failure = NULL;
    if (iam_token_create(&options, &token, &failure) != IAM_ERROR_OK) {
        fprintf(stderr, "error: %s\n", iam_failure_message(failure));
        iam_failure_free(failure);
        return 1;
    }
    FILE *out = fopen(argv[1], "w");
    if (out == NULL || fprintf(out, "%s\n", token) < 0 || fclose(out) != 0) {
        iam_token_free(token);
        return 1;
    }
    iam_token_free(token);
    printf("header %s, library %s: a token\n", IAM_DB_AUTH_VERSION, iam_version());
    const char *ca = iam_ca_file();
    printf("ca: %s\n", ca != NULL ? ca : iam_last_error_message());
    return 0;
}
