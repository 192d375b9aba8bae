/* Many threads through the C ABI at once, mixing token-cache hits and misses.
 *
 * Each of THREADS threads makes CALLS tokens: mostly for one of USERS users shared by all
 * threads (cache hits once made), every 10th call with IAM_FLAG_NO_CACHE (a fresh signature),
 * and every 100th for a user no one else asks for (a miss that fills the cache until it is
 * full and starts over). Every token is checked (made, our key, the right user); errors are
 * counted, never ignored. A deadlock shows as the run not finishing (the caller's timeout).
 *
 * Usage: threads KEY_ID SAMPLE_FILE [THREADS] [CALLS] [USERS]
 * Prints the counts and the throughput; writes one token ("user token") to SAMPLE_FILE for
 * the verifier. Exit 0 only if every call succeeded.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iam_db_auth.h"

#define HOST "mydb.cluster-abc123xyz.us-west-2.rds.amazonaws.com"
#define PORT 5432

static const char *key_id;
static long calls_per_thread = 10000;
static long users = 500;
static atomic_long ok_count;
static atomic_long error_count;
static atomic_long uncached_count;
static atomic_long unique_count;

struct worker {
    long id;
    char sample_user[64];
    char *sample;
};

static int good_token(const char *token, const char *user) {
    char cred[128], dbuser[128];
    if (token == NULL) {
        return 0;
    }
    snprintf(cred, sizeof cred, "X-Amz-Credential=%s%%2F", key_id);
    snprintf(dbuser, sizeof dbuser, "DBUser=%s&", user);
    return strstr(token, cred) != NULL && strstr(token, dbuser) != NULL;
}

static void *work(void *arg) {
    struct worker *w = arg;
    char user[64];
    iam_token_options options;
    iam_token_options_init(&options);
    options.host = HOST;
    options.port = PORT;
    for (long i = 0; i < calls_per_thread; i++) {
        char *token;
        if (i % 100 == 99) {
            snprintf(user, sizeof user, "once-%ld-%ld", w->id, i);
            atomic_fetch_add(&unique_count, 1);
            token = iam_token_get(HOST, PORT, NULL, user);
        } else if (i % 10 == 9) {
            snprintf(user, sizeof user, "u%ld", (w->id * 31 + i) % users);
            options.user = user;
            options.flags = IAM_FLAG_NO_CACHE;
            atomic_fetch_add(&uncached_count, 1);
            token = iam_token_get_ext(&options);
        } else {
            snprintf(user, sizeof user, "u%ld", (w->id * 31 + i) % users);
            token = iam_token_get(HOST, PORT, NULL, user);
        }
        if (good_token(token, user)) {
            atomic_fetch_add(&ok_count, 1);
        } else {
            if (atomic_fetch_add(&error_count, 1) < 5) {
                fprintf(stderr, "threads: call failed: [%d] %s\n", (int)iam_last_error_code(),
                        iam_last_error_message());
            }
        }
        if (i == calls_per_thread - 1 && token != NULL) {
            snprintf(w->sample_user, sizeof w->sample_user, "%s", user);
            w->sample = strdup(token);
        }
        iam_token_free(token);
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: threads KEY_ID SAMPLE_FILE [THREADS] [CALLS] [USERS]\n");
        return 2;
    }
    key_id = argv[1];
    long nthreads = argc > 3 ? atol(argv[3]) : 64;
    if (argc > 4) {
        calls_per_thread = atol(argv[4]);
    }
    if (argc > 5) {
        users = atol(argv[5]);
    }
    if (nthreads < 1 || nthreads > 1024 || calls_per_thread < 1 || users < 1) {
        return 2;
    }
    pthread_t *threads = calloc((size_t)nthreads, sizeof *threads);
    struct worker *workers = calloc((size_t)nthreads, sizeof *workers);
    if (threads == NULL || workers == NULL) {
        return 1;
    }
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (long i = 0; i < nthreads; i++) {
        workers[i].id = i;
        if (pthread_create(&threads[i], NULL, work, &workers[i]) != 0) {
            return 1;
        }
    }
    for (long i = 0; i < nthreads; i++) {
        pthread_join(threads[i], NULL);
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    double seconds = (double)(end.tv_sec - start.tv_sec) + (double)(end.tv_nsec - start.tv_nsec) / 1e9;
    long total = nthreads * calls_per_thread;
    printf("threads: %ld threads x %ld calls = %ld calls (%ld uncached, %ld one-off users): "
           "%ld ok, %ld errors in %.2f s, %.0f calls/s\n",
           nthreads, calls_per_thread, total, atomic_load(&uncached_count),
           atomic_load(&unique_count), atomic_load(&ok_count), atomic_load(&error_count), seconds,
           (double)total / seconds);
    FILE *f = fopen(argv[2], "w");
    if (f == NULL || workers[0].sample == NULL) {
        return 1;
    }
    fprintf(f, "%s %s\n", workers[0].sample_user, workers[0].sample);
    fclose(f);
    for (long i = 0; i < nthreads; i++) {
        free(workers[i].sample);
    }
    free(workers);
    free(threads);
    return atomic_load(&ok_count) == total && atomic_load(&error_count) == 0 ? 0 : 1;
}
