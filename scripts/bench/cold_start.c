/* Cold start: in a fresh process, load the library with dlopen and make the first token.
 * Prints "load_us=A first_token_us=B total_us=C" (wall clock, CLOCK_MONOTONIC); exit 1 if no
 * token. What a serverless function or a short-lived script pays before its first login.
 *
 * usage: cold_start /path/to/libiam_db_auth.so
 * Credentials come from the environment (scripts/bench.sh sets the demo key). */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

typedef char *(*token_get_fn)(const char *, uint16_t, const char *, const char *);
typedef void (*token_free_fn)(char *);
typedef const char *(*message_fn)(void);

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: cold_start LIBRARY\n");
    return 2;
  }
  double t0 = now_us();
  void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (lib == NULL) {
    fprintf(stderr, "cold_start: %s\n", dlerror());
    return 1;
  }
  token_get_fn get;
  token_free_fn release;
  message_fn message;
  /* POSIX: dlsym's result converts to a function pointer through this cast. */
  *(void **)&get = dlsym(lib, "iam_token_get");
  *(void **)&release = dlsym(lib, "iam_token_free");
  *(void **)&message = dlsym(lib, "iam_last_error_message");
  if (get == NULL || release == NULL || message == NULL) {
    fprintf(stderr, "cold_start: missing symbols\n");
    return 1;
  }
  double t1 = now_us();
  char *token = get("mydb.cluster-c1a2b3c4d5e6.us-east-1.rds.amazonaws.com", 5432, NULL, "app_user");
  double t2 = now_us();
  if (token == NULL) {
    fprintf(stderr, "cold_start: no token: %s\n", message());
    return 1;
  }
  release(token);
  printf("load_us=%.1f first_token_us=%.1f total_us=%.1f\n", t1 - t0, t2 - t1, t2 - t0);
  return 0;
}
