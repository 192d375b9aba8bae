/*
 * The library called during teardown (see teardown.h) by a thread that used it before:
 *
 *   teardown atexit   from an atexit handler: the main thread's thread-locals are gone by then
 *                     (glibc runs them before the atexit handlers);
 *   teardown key      from a pthread-key destructor of a worker thread: glibc runs those after
 *                     the thread's thread-local destructors.
 *
 * Run with credentials in the environment or in a credentials file. Prints "<where>: ok" from
 * the handler; exits 0 only if every check passed. A process killed by SIGABRT (status 134)
 * is the defect this test pins.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "teardown.h"

static int failures_in_key_destructor = -1;

static void at_exit(void)
{
    if (teardown_calls("atexit") != 0)
        _exit(1);
}

static void key_destructor(void *value)
{
    (void)value;
    failures_in_key_destructor = teardown_calls("pthread-key destructor");
}

static void *worker(void *arg)
{
    pthread_key_t *key = arg;
    if (teardown_token_ok("worker", "a token before teardown") != 0)
        return NULL;
    /* Any non-NULL value: the destructor runs when the thread ends. */
    pthread_setspecific(*key, key);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s atexit|key\n", argv[0]);
        return 64;
    }
    if (strcmp(argv[1], "atexit") == 0) {
        if (teardown_token_ok("main", "a token before teardown") != 0)
            return 1;
        if (atexit(at_exit) != 0)
            return 1;
        return 0;
    }
    if (strcmp(argv[1], "key") == 0) {
        pthread_key_t key;
        pthread_t thread;
        if (pthread_key_create(&key, key_destructor) != 0 ||
            pthread_create(&thread, NULL, worker, &key) != 0 || pthread_join(thread, NULL) != 0)
            return 1;
        if (failures_in_key_destructor != 0) {
            printf("key: FAIL the destructor %s\n",
                   failures_in_key_destructor < 0 ? "did not run" : "saw failures");
            return 1;
        }
        return 0;
    }
    fprintf(stderr, "unknown mode %s\n", argv[1]);
    return 64;
}
