/*
 * The calls a host may make while a thread or the process is being torn down: from an atexit
 * handler, a C++ static destructor or a pthread-key destructor, after the library's
 * thread-local state on that thread is gone. Shared by teardown.c (atexit, pthread key) and
 * teardown_static.cpp (a C++ static destructor).
 *
 * teardown_calls() makes a token (a cache hit), clears the caches and makes one again (the
 * credentials looked up again, on the library's runtime when they come from a file), reads the
 * last error, and fails a call on purpose (host NULL) to see it recorded. It prints
 * "<where>: ok" or one "<where>: FAIL ..." line per failed check, and returns the number of
 * failures. Before the fix the first call aborted the process ("panic in a function that
 * cannot unwind").
 */
#ifndef IAM_TEARDOWN_H
#define IAM_TEARDOWN_H

#include <stdio.h>
#include <string.h>

#include "iam_db_auth.h"

#define TEARDOWN_HOST "mydb.c9akciq32.us-east-1.rds.amazonaws.com"
#define TEARDOWN_PORT 5432
#define TEARDOWN_USER "app"
#define TEARDOWN_PREFIX TEARDOWN_HOST ":5432/?Action=connect&DBUser=app&"

static int teardown_token_ok(const char *where, const char *what)
{
    char *token = iam_token_get(TEARDOWN_HOST, TEARDOWN_PORT, NULL, TEARDOWN_USER);
    int ok = token != NULL && strncmp(token, TEARDOWN_PREFIX, strlen(TEARDOWN_PREFIX)) == 0 &&
             strstr(token, "&X-Amz-Signature=") != NULL && iam_last_error_code() == IAM_ERROR_OK &&
             strcmp(iam_last_error_message(), "") == 0;
    if (!ok)
        printf("%s: FAIL %s: token=%.60s code=%d message=%s\n", where, what,
               token ? token : "(null)", (int)iam_last_error_code(), iam_last_error_message());
    iam_token_free(token);
    return ok ? 0 : 1;
}

static int teardown_calls(const char *where)
{
    int failures = 0;
    if (iam_last_error_code() != IAM_ERROR_OK) {
        printf("%s: FAIL the last error before the calls is %d, not IAM_ERROR_OK\n", where,
               (int)iam_last_error_code());
        failures++;
    }
    failures += teardown_token_ok(where, "a token (the same as made before)");
    iam_cache_clear();
    failures += teardown_token_ok(where, "a token after iam_cache_clear");

    char *none = iam_token_get(NULL, TEARDOWN_PORT, NULL, TEARDOWN_USER);
    const char *message = iam_last_error_message();
    /* The complete message ("host is NULL") needs thread-local memory that may be gone by
     * now; the code's static description then stands in for it (documented). */
    if (none != NULL || iam_last_error_code() != IAM_ERROR_NULL_ARGUMENT || message == NULL ||
        (strstr(message, "host") == NULL &&
         strcmp(message, iam_error_code_message(IAM_ERROR_NULL_ARGUMENT)) != 0)) {
        printf("%s: FAIL a NULL host: token=%s code=%d message=%s\n", where,
               none ? "(made)" : "(null)", (int)iam_last_error_code(),
               message ? message : "(null)");
        failures++;
    }
    iam_token_free(none);
    /* The failure stays readable until the next call. */
    if (iam_last_error_code() != IAM_ERROR_NULL_ARGUMENT) {
        printf("%s: FAIL the failure is not kept: code=%d\n", where, (int)iam_last_error_code());
        failures++;
    }
    if (failures == 0)
        printf("%s: ok\n", where);
    fflush(stdout);
    return failures;
}

#endif
