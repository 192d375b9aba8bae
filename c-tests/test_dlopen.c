/*
 * Loading the library at run time, as plugin hosts do: dlopen, make a token, dlclose, load it
 * again and make another. The library is linked -z nodelete, so dlclose never unmaps code a
 * runtime thread or thread-local destructor could still use.
 *
 * Usage: test_dlopen /path/to/libiam_db_auth.so
 */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef char *(*token_get_fn)(const char *, uint16_t, const char *, const char *);
typedef void (*token_free_fn)(char *);

static int passed, failed;

#define CHECK(cond, what)                                                      \
    do {                                                                       \
        if (cond) {                                                            \
            passed++;                                                          \
            printf("ok   %s\n", what);                                         \
        } else {                                                               \
            failed++;                                                          \
            printf("FAIL %s (%s)\n", what, #cond);                             \
        }                                                                      \
    } while (0)

static int load_and_use(const char *path, const char *user) {
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        printf("dlopen: %s\n", dlerror());
        return 0;
    }
    token_get_fn get;
    token_free_fn release;
    *(void **)&get = dlsym(lib, "iam_token_get");
    *(void **)&release = dlsym(lib, "iam_token_free");
    int ok = 0;
    if (get != NULL && release != NULL) {
        char *token = get("mydb.c9akciq32.us-east-1.rds.amazonaws.com", 3306, NULL, user);
        ok = token != NULL && strstr(token, user) != NULL;
        release(token);
    }
    return dlclose(lib) == 0 && ok;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s LIBRARY\n", argv[0]);
        return 2;
    }
    CHECK(load_and_use(argv[1], "first_load"), "first load makes a token and dlcloses");
    CHECK(load_and_use(argv[1], "second_load"), "second load in the same process makes a token");
    CHECK(load_and_use(argv[1], "third_load"), "third load too");
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
