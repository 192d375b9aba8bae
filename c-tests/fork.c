/* fork() safety through the C ABI.
 *
 * The parent makes a token, starts threads that make tokens in a loop (so a fork lands while
 * one of them is inside the library, holding its locks), then forks CHILDREN times. Each child
 * makes a token (and one child forks again: a grandchild after two forks) and exits 0 if the
 * token is good. A child that hangs is killed by alarm() and counted as a failure. Finally the
 * parent makes another token.
 *
 * Usage: fork KEY_ID OUT_DIR [CHILDREN]
 * Credentials come from the environment (the test sets AWS_ACCESS_KEY_ID and friends).
 * Writes OUT_DIR/parent.token and OUT_DIR/child.token for the verifier.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "iam_db_auth.h"

#define HOST "mydb.cluster-abc123xyz.us-west-2.rds.amazonaws.com"
#define PORT 5432
#define BUSY_THREADS 4

static const char *key_id;
static atomic_int stop;
static atomic_long busy_calls;
static atomic_long busy_errors;

/* A token is good if it was made and names our key and user. */
static int good_token(const char *token, const char *user) {
    char cred[128], dbuser[128];
    if (token == NULL) {
        return 0;
    }
    snprintf(cred, sizeof cred, "X-Amz-Credential=%s%%2F", key_id);
    snprintf(dbuser, sizeof dbuser, "DBUser=%s&", user);
    return strstr(token, cred) != NULL && strstr(token, dbuser) != NULL;
}

static int make_and_save(const char *user, const char *path) {
    char *token = iam_token_get(HOST, PORT, NULL, user);
    int ok = good_token(token, user);
    if (!ok) {
        fprintf(stderr, "fork: token failed in pid %d: [%d] %s\n", (int)getpid(),
                (int)iam_last_error_code(), iam_last_error_message());
    }
    if (ok && path != NULL) {
        FILE *f = fopen(path, "w");
        if (f == NULL || fputs(token, f) < 0 || fclose(f) != 0) {
            ok = 0;
        }
    }
    iam_token_free(token);
    return ok;
}

static void *busy(void *arg) {
    long n = (long)(size_t)arg;
    char user[32];
    for (long i = 0; !atomic_load(&stop); i++) {
        snprintf(user, sizeof user, "busy%ld-%ld", n, i % 50);
        char *token = iam_token_get(HOST, PORT, NULL, user);
        if (!good_token(token, user)) {
            atomic_fetch_add(&busy_errors, 1);
        }
        iam_token_free(token);
        atomic_fetch_add(&busy_calls, 1);
    }
    return NULL;
}

/* Waits for a child; 1 if it exited 0. */
static int reap(pid_t pid) {
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            return 0;
        }
    }
    if (WIFSIGNALED(status)) {
        fprintf(stderr, "fork: child %d died of signal %d%s\n", (int)pid, WTERMSIG(status),
                WTERMSIG(status) == SIGALRM ? " (hung: alarm)" : "");
        return 0;
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: fork KEY_ID OUT_DIR [CHILDREN]\n");
        return 2;
    }
    key_id = argv[1];
    const char *out = argv[2];
    int children = argc > 3 ? atoi(argv[3]) : 50;
    char parent_path[4096], child_path[4096];
    snprintf(parent_path, sizeof parent_path, "%s/parent.token", out);
    snprintf(child_path, sizeof child_path, "%s/child.token", out);

    if (!make_and_save("app", parent_path)) {
        return 1;
    }
    pthread_t threads[BUSY_THREADS];
    for (long i = 0; i < BUSY_THREADS; i++) {
        if (pthread_create(&threads[i], NULL, busy, (void *)(size_t)i) != 0) {
            return 1;
        }
    }
    int failed = 0;
    for (int c = 0; c < children; c++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 1;
        }
        if (pid == 0) {
            alarm(20);
            int ok = make_and_save("app", c == 0 ? child_path : NULL);
            if (ok && c == 1) {
                /* A second fork from a child: the library must start over once more. */
                pid_t grandchild = fork();
                if (grandchild == 0) {
                    alarm(20);
                    _exit(make_and_save("grandchild", NULL) ? 0 : 1);
                }
                ok = grandchild > 0 && reap(grandchild);
            }
            _exit(ok ? 0 : 1);
        }
        if (!reap(pid)) {
            failed++;
        }
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < BUSY_THREADS; i++) {
        pthread_join(threads[i], NULL);
    }
    if (!make_and_save("app", NULL)) {
        failed++;
    }
    printf("fork: %d children, %d failed; busy threads made %ld tokens, %ld errors\n", children,
           failed, atomic_load(&busy_calls), atomic_load(&busy_errors));
    return failed == 0 && atomic_load(&busy_errors) == 0 && atomic_load(&busy_calls) > 0 ? 0 : 1;
}
