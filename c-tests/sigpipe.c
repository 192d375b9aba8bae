/*
 * A log line never kills the host: stderr is a pipe whose reader has gone, SIGPIPE has its
 * default action (which ends the process), and the library writes a warning at the default
 * log level. Before the fix the host died of SIGPIPE (status 141 in a shell) at the first line.
 *
 * The warning: credentials from a credential_process that expire in two minutes ("tokens made
 * now expire with them"); iam_cache_clear() before each call makes the library look them up,
 * and warn, again. The test sets up its own AWS environment (a config file in a temporary
 * directory, no AWS_* keys) and checks first that the warning is written at all, so that it
 * cannot pass by saying nothing.
 *
 * Also checked, as libpq does it: the caller's signal mask is left as it was; a SIGPIPE the
 * write raised is not left pending for a caller that blocks SIGPIPE; and a SIGPIPE that was
 * already pending for the caller stays pending.
 *
 * Prints one line per check and "N passed, N failed"; exits 0 only if all passed.
 */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "iam_db_auth.h"

#define HOST "mydb.c9akciq32.us-east-1.rds.amazonaws.com"

static int passed, failed;

#define CHECK(cond, what)                                                                      \
    do {                                                                                       \
        if (cond) {                                                                            \
            passed++;                                                                          \
            printf("ok   %s\n", what);                                                         \
        } else {                                                                               \
            failed++;                                                                          \
            printf("FAIL %s (%s:%d: %s)\n", what, __FILE__, __LINE__, #cond);                   \
        }                                                                                      \
        fflush(stdout);                                                                        \
    } while (0)

static char dir[] = "/tmp/iam-sigpipe-XXXXXX";
static char script[64], config[64], log_path[64];

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0 || chmod(path, mode) != 0) {
        perror(path);
        exit(2);
    }
}

/* A credential_process whose credentials expire two minutes from now. */
static void set_up_environment(void)
{
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        exit(2);
    }
    snprintf(script, sizeof script, "%s/creds.sh", dir);
    snprintf(config, sizeof config, "%s/config", dir);
    snprintf(log_path, sizeof log_path, "%s/stderr", dir);
    time_t soon = time(NULL) + 120;
    char expiration[32], text[512];
    strftime(expiration, sizeof expiration, "%Y-%m-%dT%H:%M:%SZ", gmtime(&soon));
    snprintf(text, sizeof text,
             "#!/bin/sh\n"
             "echo '{\"Version\": 1, \"AccessKeyId\": \"ASIAIAMDBAUTHSIGPIPE\", "
             "\"SecretAccessKey\": \"sigpipeTestSecret/0123456789abcdefghijklmn\", "
             "\"SessionToken\": \"sigpipe-test-session\", \"Expiration\": \"%s\"}'\n",
             expiration);
    write_file(script, text, 0700);
    snprintf(text, sizeof text, "[default]\ncredential_process = %s\n", script);
    write_file(config, text, 0600);
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SESSION_TOKEN");
    unsetenv("AWS_PROFILE");
    unsetenv("IAM_DB_AUTH_PROFILE");
    unsetenv("IAM_DB_AUTH_LOG"); /* the default level, warn */
    setenv("AWS_CONFIG_FILE", config, 1);
    setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials", 1);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
}

/* A fresh lookup (so a fresh warning) and a token. */
static int token_made(void)
{
    iam_cache_clear();
    char *token = iam_token_get(HOST, 5432, NULL, "app");
    int ok = token != NULL;
    if (!ok)
        printf("     no token: %s\n", iam_last_error_message());
    iam_token_free(token);
    return ok;
}

static int sigpipe_pending(void)
{
    sigset_t pending;
    sigpending(&pending);
    return sigismember(&pending, SIGPIPE);
}

static int sigpipe_blocked(void)
{
    sigset_t mask;
    pthread_sigmask(SIG_BLOCK, NULL, &mask);
    return sigismember(&mask, SIGPIPE);
}

int main(void)
{
    set_up_environment();
    signal(SIGPIPE, SIG_DFL);
    sigset_t sigpipe_only;
    sigemptyset(&sigpipe_only);
    sigaddset(&sigpipe_only, SIGPIPE);

    /* Control: with stderr a file, the call writes the warning. */
    int saved_stderr = dup(2);
    int log_fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(log_fd, 2);
    close(log_fd);
    CHECK(token_made(), "a token from the credential_process");
    char logged[4096] = "";
    FILE *f = fopen(log_path, "r");
    size_t n = f ? fread(logged, 1, sizeof logged - 1, f) : 0;
    logged[n] = '\0';
    if (f)
        fclose(f);
    CHECK(strstr(logged, " warn: ") != NULL && strstr(logged, "expire in") != NULL,
          "the library warns that the credentials expire soon (control)");

    /* stderr: a pipe nobody reads any more. */
    int p[2];
    if (pipe(p) != 0) {
        perror("pipe");
        return 2;
    }
    close(p[0]);
    dup2(p[1], 2);
    close(p[1]);

    pthread_sigmask(SIG_BLOCK, &sigpipe_only, NULL);
    CHECK(token_made(), "SIGPIPE blocked: a token, warning into the broken pipe");
    CHECK(!sigpipe_pending(), "SIGPIPE blocked: the write's SIGPIPE is not left pending");
    CHECK(sigpipe_blocked(), "SIGPIPE blocked: still blocked after the call");

    raise(SIGPIPE);
    CHECK(sigpipe_pending(), "SIGPIPE blocked: the caller's own SIGPIPE is pending (setup)");
    CHECK(token_made(), "SIGPIPE blocked and pending: a token");
    CHECK(sigpipe_pending(), "SIGPIPE blocked and pending: the caller's SIGPIPE stays pending");
    struct timespec zero = {0, 0};
    sigtimedwait(&sigpipe_only, NULL, &zero);
    pthread_sigmask(SIG_UNBLOCK, &sigpipe_only, NULL);

    /* The case that killed the host: default action, not blocked. */
    CHECK(token_made(), "SIGPIPE default and unblocked: the host lives, with a token");
    CHECK(!sigpipe_blocked(), "SIGPIPE default and unblocked: still unblocked after the call");

    dup2(saved_stderr, 2);
    close(saved_stderr);
    unlink(script);
    unlink(config);
    unlink(log_path);
    rmdir(dir);
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
