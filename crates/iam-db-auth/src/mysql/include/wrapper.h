/* What the MySQL plugin's bindings are generated from (tests/mysql_bindings.rs): the real
 * libmariadb-dev headers, in the order a client plugin includes them. */
#include <mysql.h>
#include <errmsg.h>
#include <ma_pvio.h>
#include <mysql/client_plugin.h>
