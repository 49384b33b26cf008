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
    char etag[257];       /* ETag response header */
    char retry_after[33]; /* Retry-After response header */
    char *body;
    size_t body_len;
    size_t body_cap;      /* non-zero: body is a locked, non-dumpable mapping of this size */
} v1v_http_result;

/// One request for v1v_http_request.
typedef struct {
    const char *method;                 /* "GET", "POST", "PATCH" */
    const char *url;
    const unsigned char *token;         /* sent as Authorization: Bearer <token> */
    size_t token_len;
    const char *const *headers;         /* extra header lines, e.g. "If-Match: W/\"1\"" */
    size_t header_count;
    const char *body;                   /* request body (JSON) or NULL */
    size_t body_len;
    long timeout_ms;                    /* bounds connect and total time; at least 1 */
    int direct;                         /* non-zero: bypass every proxy (loopback) */
    int secure_body;                    /* non-zero: receive the body into memory that is
                                           mlock'ed, excluded from core dumps and zeroed when
                                           freed (a response carrying a new key's value) */
} v1v_http_request_t;

/// Whether libcurl (libcurl.so.4) could be loaded. Loaded with dlopen on first use only, so
/// commands that never make a request never map libcurl and its dependencies.
int v1v_http_available(void);


/// One request with `Authorization: Bearer <token>`: any method, extra headers, a body; no
/// redirects followed, http/https only, `timeout_ms` bounds connect and total time, no signals.
/// The header buffers are zeroed before they are freed. Returns 0 when a response arrived.
int v1v_http_request(const v1v_http_request_t *req, v1v_http_result *out);

/// Frees the body (zeroing it first when it was received with secure_body).
void v1v_http_free(v1v_http_result *result);

#endif
