#ifndef V1VAULT_CHTTP_H
#define V1VAULT_CHTTP_H

#include <stddef.h>

/// The outcome of one GET. `body` is malloc'd (free with v1v_http_free); header fields are
/// NUL-terminated and truncated to fit.
typedef struct {
    long status;          /* HTTP status, 0 when no response */
    int curl_code;        /* 0 on success; a CURLcode, or -1 when libcurl could not be loaded */
    char error[256];      /* libcurl's message when curl_code != 0 */
    char trace_id[129];   /* x-trace-id response header */
    char location[257];   /* Location response header */
    char *body;
    size_t body_len;
} v1v_http_result;

/// Whether libcurl (libcurl.so.4) could be loaded. Loaded with dlopen on first use only, so
/// commands that never make a request never map libcurl and its dependencies.
int v1v_http_available(void);

/// GET `url` with `Authorization: Bearer <token>`; no redirects followed, http/https only,
/// `timeout_ms` (at least 1) bounds connect and total time, no signals; `direct` non-zero
/// bypasses every proxy (used for loopback). The header buffers are zeroed before they are
/// freed. Returns 0 when a response arrived.
int v1v_http_get(const char *url, const unsigned char *token, size_t token_len, long timeout_ms,
                 int direct, v1v_http_result *out);

void v1v_http_free(v1v_http_result *result);

#endif
