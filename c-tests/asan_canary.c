/*
 * Negative control for the sanitizer stage (scripts/tests/44-sanitizers.sh): shows that the
 * library's own code is AddressSanitizer-instrumented, not only the C side.
 *
 * It breaks the ABI contract on purpose: options->struct_size claims 16 bytes more than the
 * heap block holds, so the library's check of a "newer header's" tail reads past the end of
 * the block. An instrumented library stops with a heap-buffer-overflow in ffi::options::read; an
 * uninstrumented one would read on silently. The stage expects the report.
 */
#include "iam_db_auth.h"

#include <stdio.h>
#include <stdlib.h>

int main(void) {
    iam_token_options *opts = malloc(sizeof *opts);
    if (opts == NULL) {
        return 2;
    }
    iam_token_options_init(opts);
    opts->host = "db.internal";
    opts->port = 5432;
    opts->user = "app";
    opts->struct_size = (uint32_t)(sizeof *opts + 16);
    char *token = iam_token_get_ext(opts);
    printf("not caught: %s\n", token != NULL ? "a token" : iam_last_error_message());
    iam_token_free(token);
    free(opts);
    return 0;
}
