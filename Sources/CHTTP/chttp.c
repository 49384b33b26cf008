// libcurl reached through dlopen, so only `vault check` and `--check` load it (and its ~26
// dependent libraries); linking FoundationNetworking cost every command about 19 ms.
#define _GNU_SOURCE
#include "chttp.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>

typedef void CURL;
typedef int CURLcode;
struct curl_slist { char *data; struct curl_slist *next; };  /* public layout, curl.h */

enum {
    OPT_WRITEDATA = 10001, OPT_URL = 10002, OPT_ERRORBUFFER = 10010, OPT_WRITEFUNCTION = 20011,
    OPT_USERAGENT = 10018, OPT_HTTPHEADER = 10023, OPT_HEADERDATA = 10029, OPT_FOLLOWLOCATION = 52,
    OPT_NOSIGNAL = 99, OPT_TIMEOUT_MS = 155, OPT_CONNECTTIMEOUT_MS = 156, OPT_HEADERFUNCTION = 20079,
    OPT_PROTOCOLS = 181, OPT_REDIR_PROTOCOLS = 182, OPT_NOPROXY = 10177,
    OPT_POSTFIELDS = 10015, OPT_POSTFIELDSIZE = 60, OPT_CUSTOMREQUEST = 10036, OPT_HTTPGET = 80,
    INFO_RESPONSE_CODE = 0x200000 + 2,
    PROTO_HTTP = 1, PROTO_HTTPS = 2, GLOBAL_ALL = 3,
};

static CURL *(*easy_init)(void);
static CURLcode (*easy_setopt)(CURL *, int, ...);
static CURLcode (*easy_perform)(CURL *);
static CURLcode (*easy_getinfo)(CURL *, int, ...);
static void (*easy_cleanup)(CURL *);
static struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
static void (*slist_free_all)(struct curl_slist *);
static const char *(*easy_strerror)(CURLcode);
static CURLcode (*global_init)(long);

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int loaded;

static void load(void) {
    const char *names[] = {"libcurl.so.4", "libcurl-gnutls.so.4", "libcurl.so", NULL};
    void *lib = NULL;
    for (int i = 0; names[i] != NULL && lib == NULL; i++) lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) return;
    *(void **)&easy_init = dlsym(lib, "curl_easy_init");
    *(void **)&easy_setopt = dlsym(lib, "curl_easy_setopt");
    *(void **)&easy_perform = dlsym(lib, "curl_easy_perform");
    *(void **)&easy_getinfo = dlsym(lib, "curl_easy_getinfo");
    *(void **)&easy_cleanup = dlsym(lib, "curl_easy_cleanup");
    *(void **)&slist_append = dlsym(lib, "curl_slist_append");
    *(void **)&slist_free_all = dlsym(lib, "curl_slist_free_all");
    *(void **)&easy_strerror = dlsym(lib, "curl_easy_strerror");
    *(void **)&global_init = dlsym(lib, "curl_global_init");
    if (!easy_init || !easy_setopt || !easy_perform || !easy_getinfo || !easy_cleanup || !slist_append ||
        !slist_free_all || !easy_strerror || !global_init) return;
    if (global_init(GLOBAL_ALL) != 0) return;
    loaded = 1;
}

int v1v_http_available(void) {
    pthread_once(&once, load);
    return loaded;
}

typedef struct { char *data; size_t len, cap; int secure; } body_buf;
/* A list of 200 keys is about 60 KiB; a create response under 4 KiB. A larger body is
   truncated (the caller then fails to parse it), never an error here. */
enum { BODY_MAX = 8 * 1024 * 1024, SECURE_BODY_MAX = 64 * 1024 };

static size_t on_body(char *ptr, size_t size, size_t n, void *userdata) {
    body_buf *b = userdata;
    size_t len = size * n;
    if (b->secure) {
        /* One fixed mapping, never reallocated (realloc would leave copies behind). */
        if (b->data == NULL) {
            void *m = mmap(NULL, SECURE_BODY_MAX, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (m == MAP_FAILED) return 0;
            (void)mlock(m, SECURE_BODY_MAX);
            (void)madvise(m, SECURE_BODY_MAX, MADV_DONTDUMP);
            b->data = m;
            b->cap = SECURE_BODY_MAX;
        }
        size_t room = b->cap - b->len, take = len < room ? len : room;
        memcpy(b->data + b->len, ptr, take);
        b->len += take;
        explicit_bzero(ptr, len);  /* libcurl's receive buffer: do not leave the value there */
        return len;
    }
    size_t room = BODY_MAX - b->len;
    size_t take = len < room ? len : room;
    if (take > 0) {
        if (b->len + take > b->cap) {
            size_t cap = b->cap ? b->cap * 2 : 4096;
            while (cap < b->len + take) cap *= 2;
            char *grown = realloc(b->data, cap);
            if (grown == NULL) return 0;
            b->data = grown;
            b->cap = cap;
        }
        memcpy(b->data + b->len, ptr, take);
        b->len += take;
    }
    return len;  /* a larger body is truncated, not an error */
}

static void header_value(const char *line, size_t len, const char *name, char *dest, size_t dest_size) {
    size_t nlen = strlen(name);
    if (len <= nlen || strncasecmp(line, name, nlen) != 0 || line[nlen] != ':') return;
    const char *v = line + nlen + 1;
    const char *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t')) v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ')) end--;
    size_t vlen = (size_t)(end - v);
    if (vlen >= dest_size) vlen = dest_size - 1;
    memcpy(dest, v, vlen);
    dest[vlen] = 0;
}

static size_t on_header(char *ptr, size_t size, size_t n, void *userdata) {
    v1v_http_result *r = userdata;
    size_t len = size * n;
    header_value(ptr, len, "x-trace-id", r->trace_id, sizeof r->trace_id);
    header_value(ptr, len, "location", r->location, sizeof r->location);
    header_value(ptr, len, "etag", r->etag, sizeof r->etag);
    header_value(ptr, len, "retry-after", r->retry_after, sizeof r->retry_after);
    return len;
}

int v1v_http_request(const v1v_http_request_t *req, v1v_http_result *out) {
    memset(out, 0, sizeof *out);
    if (!v1v_http_available()) {
        out->curl_code = -1;
        snprintf(out->error, sizeof out->error, "libcurl (libcurl.so.4) is not installed");
        return -1;
    }
    CURL *h = easy_init();
    if (h == NULL) {
        out->curl_code = -1;
        snprintf(out->error, sizeof out->error, "curl_easy_init failed");
        return -1;
    }
    static const char prefix[] = "Authorization: Bearer ";
    size_t auth_len = sizeof prefix - 1 + req->token_len;
    char *auth = malloc(auth_len + 1);
    if (auth == NULL) { easy_cleanup(h); out->curl_code = -1; return -1; }
    memcpy(auth, prefix, sizeof prefix - 1);
    memcpy(auth + sizeof prefix - 1, req->token, req->token_len);
    auth[auth_len] = 0;
    struct curl_slist *headers = slist_append(NULL, auth);  /* curl keeps its own copy */
    explicit_bzero(auth, auth_len);
    free(auth);
    headers = slist_append(headers, "Accept: application/json");
    if (req->body != NULL) headers = slist_append(headers, "Content-Type: application/json;charset=utf-8");
    for (size_t i = 0; i < req->header_count; i++) headers = slist_append(headers, req->headers[i]);

    body_buf body = {.secure = req->secure_body};
    char errbuf[256] = {0};
    easy_setopt(h, OPT_URL, req->url);
    easy_setopt(h, OPT_HTTPHEADER, headers);
    if (req->body != NULL) {
        easy_setopt(h, OPT_POSTFIELDSIZE, (long)req->body_len);
        easy_setopt(h, OPT_POSTFIELDS, req->body);
    } else {
        easy_setopt(h, OPT_HTTPGET, 1L);
    }
    if (req->method != NULL && strcmp(req->method, "GET") != 0 && strcmp(req->method, "POST") != 0)
        easy_setopt(h, OPT_CUSTOMREQUEST, req->method);
    easy_setopt(h, OPT_FOLLOWLOCATION, 0L);
    easy_setopt(h, OPT_PROTOCOLS, (long)(PROTO_HTTP | PROTO_HTTPS));
    easy_setopt(h, OPT_REDIR_PROTOCOLS, (long)PROTO_HTTPS);
    easy_setopt(h, OPT_NOSIGNAL, 1L);
    /* Loopback: never through a proxy named by http_proxy/all_proxy (plain http would carry
       the token in clear to it). Other hosts honour https_proxy and no_proxy. */
    if (req->direct) easy_setopt(h, OPT_NOPROXY, "*");
    long timeout_ms = req->timeout_ms < 1 ? 1 : req->timeout_ms;  /* 0 means "no timeout" to libcurl */
    easy_setopt(h, OPT_TIMEOUT_MS, timeout_ms);
    easy_setopt(h, OPT_CONNECTTIMEOUT_MS, timeout_ms);
    easy_setopt(h, OPT_USERAGENT, "v1vault");
    easy_setopt(h, OPT_WRITEFUNCTION, on_body);
    easy_setopt(h, OPT_WRITEDATA, &body);
    easy_setopt(h, OPT_HEADERFUNCTION, on_header);
    easy_setopt(h, OPT_HEADERDATA, out);
    easy_setopt(h, OPT_ERRORBUFFER, errbuf);
    CURLcode rc = easy_perform(h);
    out->curl_code = rc;
    if (rc == 0) {
        easy_getinfo(h, INFO_RESPONSE_CODE, &out->status);
    } else {
        snprintf(out->error, sizeof out->error, "%s", errbuf[0] ? errbuf : easy_strerror(rc));
    }
    for (struct curl_slist *s = headers; s != NULL; s = s->next) explicit_bzero(s->data, strlen(s->data));
    slist_free_all(headers);
    easy_cleanup(h);
    out->body = body.data;
    out->body_len = body.len;
    out->body_cap = body.secure ? body.cap : 0;
    return rc == 0 ? 0 : -1;
}

void v1v_http_free(v1v_http_result *result) {
    if (result->body_cap != 0) {
        explicit_bzero(result->body, result->body_cap);
        munmap(result->body, result->body_cap);
    } else {
        free(result->body);
    }
    result->body_cap = 0;
    result->body = NULL;
    result->body_len = 0;
}
