/*
 * The library called from a C++ static destructor (see teardown.h), in a program whose main
 * thread used it before: static destructors run at exit, after the main thread's thread-locals
 * are gone. Prints "static destructor: ok" and exits 0 only if every check passed.
 */
#include <cstdlib>
#include <unistd.h>

#include "teardown.h"

namespace {

struct CallsAtExit {
    ~CallsAtExit()
    {
        if (teardown_calls("static destructor") != 0)
            _exit(1);
    }
};

CallsAtExit calls_at_exit;

} // namespace

int main()
{
    return teardown_token_ok("main", "a token before teardown");
}
