/* Stand-in for Connector/C's ma_compress.h, which <mysql/client_plugin.h> includes but
 * Debian's libmariadb-dev does not ship. The plugin never touches compression plugins; the
 * bindings generator only needs the type name to exist (as an incomplete struct, so any use
 * other than a pointer fails to compile). Upstream: typedef struct st_ma_compression_ctx
 * {...} ma_compress_ctx; in include/ma_compress.h. */
#ifndef IAM_DB_AUTH_MA_COMPRESS_STUB_H
#define IAM_DB_AUTH_MA_COMPRESS_STUB_H
typedef struct st_ma_compression_ctx ma_compress_ctx;
#endif
