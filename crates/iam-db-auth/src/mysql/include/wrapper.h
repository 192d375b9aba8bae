/* What the MySQL plugin's bindings are generated from (tests/mysql_bindings.rs): the real
 * libmariadb-dev headers, in the order a client plugin includes them. */
#include <mysql.h>
#include <errmsg.h>
/* With HAVE_TLS, ma_pvio.h includes ma_tls.h, which uses uchar before ma_pvio.h defines it
 * (the same typedef again is allowed since C11). */
typedef unsigned char uchar;
#include <ma_pvio.h>
#include <mysql/client_plugin.h>
