/* Throughput of the C ABI with N threads: every thread makes tokens for the same endpoint and
 * user (a connection storm) for a fixed time; prints one line per run:
 *
 *   threads=N mode=cached|uncached calls=C seconds=S calls_per_s=R cpu_ns_per_call=T
 *
 * calls_per_s is wall-clock throughput; cpu_ns_per_call is the CPU time the threads spent per
 * call (CLOCK_THREAD_CPUTIME_ID), which shows what contention between threads costs even when
 * the machine gives the process fewer cores than it has threads.
 *
 * usage: threads MODE THREADS MILLISECONDS
 *   MODE cached    iam_token_get (token cache on: a hit after the first call)
 *   MODE uncached  iam_token_get_ext with IAM_FLAG_NO_CACHE (a signature every call)
 * Every call's token is freed with iam_token_free; a failed call aborts the run (exit 1).
 * Credentials come from the environment (scripts/bench.sh sets the demo key). */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iam_db_auth.h"

#define HOST "mydb.cluster-c1a2b3c4d5e6.us-east-1.rds.amazonaws.com"
#define PORT 5432
#define USER "app_user"

static atomic_int go;
static atomic_int stop;
static int uncached;

struct worker {
  pthread_t thread;
  unsigned long long calls;
  double cpu_ns;
  int failed;
};

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double thread_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void *work(void *arg) {
  struct worker *w = arg;
  iam_token_options options;
  iam_token_options_init(&options);
  options.host = HOST;
  options.port = PORT;
  options.user = USER;
  options.flags = IAM_FLAG_NO_CACHE;
  while (!atomic_load_explicit(&go, memory_order_acquire)) {
  }
  unsigned long long calls = 0;
  double cpu_start = thread_cpu_ns();
  while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
    /* Check the stop flag every 64 calls only: the flag's cache line stays quiet. */
    for (int i = 0; i < 64; i++) {
      char *token = uncached ? iam_token_get_ext(&options) : iam_token_get(HOST, PORT, NULL, USER);
      if (token == NULL) {
        fprintf(stderr, "threads: no token: %s\n", iam_last_error_message());
        w->failed = 1;
        atomic_store(&stop, 1);
        break;
      }
      iam_token_free(token);
      calls++;
    }
  }
  w->cpu_ns = thread_cpu_ns() - cpu_start;
  w->calls = calls;
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 4 || (strcmp(argv[1], "cached") != 0 && strcmp(argv[1], "uncached") != 0)) {
    fprintf(stderr, "usage: threads cached|uncached THREADS MILLISECONDS\n");
    return 2;
  }
  uncached = strcmp(argv[1], "uncached") == 0;
  int n = atoi(argv[2]);
  long ms = atol(argv[3]);
  if (n < 1 || n > 1024 || ms < 1) {
    fprintf(stderr, "threads: THREADS must be 1-1024 and MILLISECONDS positive\n");
    return 2;
  }
  /* One call before timing: credentials, runtime state, signing key and cache are warm. */
  char *first = iam_token_get(HOST, PORT, NULL, USER);
  if (first == NULL) {
    fprintf(stderr, "threads: no token: %s\n", iam_last_error_message());
    return 1;
  }
  iam_token_free(first);

  struct worker *workers = calloc((size_t)n, sizeof *workers);
  if (workers == NULL) return 1;
  for (int i = 0; i < n; i++) {
    if (pthread_create(&workers[i].thread, NULL, work, &workers[i]) != 0) {
      fprintf(stderr, "threads: pthread_create failed\n");
      return 1;
    }
  }
  double start = now_s();
  atomic_store_explicit(&go, 1, memory_order_release);
  struct timespec pause = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&pause, NULL);
  atomic_store(&stop, 1);
  unsigned long long total = 0;
  double cpu_ns = 0;
  int failed = 0;
  for (int i = 0; i < n; i++) {
    pthread_join(workers[i].thread, NULL);
    total += workers[i].calls;
    cpu_ns += workers[i].cpu_ns;
    failed |= workers[i].failed;
  }
  double seconds = now_s() - start;
  free(workers);
  if (failed) return 1;
  printf("threads=%d mode=%s calls=%llu seconds=%.4f calls_per_s=%.0f cpu_ns_per_call=%.1f\n", n,
         argv[1], total, seconds, (double)total / seconds, total ? cpu_ns / (double)total : 0.0);
  return 0;
}
