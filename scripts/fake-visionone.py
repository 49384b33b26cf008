#!/usr/bin/env python3
"""Test helper: a local stand-in for Vision One, on 127.0.0.1 only (docs/FAKE-VISIONONE.md).

    fake-visionone.py LOGFILE [--lifetime S] [--latency-ms N] [--propagation-ms N]

Prints the port it listens on, then answers:

- GET /v3.0/healthcheck/connectivity. A bearer that is the value of a key this fake holds answers
  200 {"status": "available"} while that key is enabled, unexpired, undeleted and older than the
  propagation delay, else 401. Any other bearer is a "magic" token: ...ok... -> 200; e401 / e403 /
  e429 / e500 -> the matching Vision One error body; slow -> waits 30 s; redirect -> 302 to
  /elsewhere on the same server.
- The API-keys endpoints under /v3.0/iam/apiKeys (create, list, get, update, delete), statefully,
  in the wire format of Trend's SDK pytmv1 0.11.0 (scripts/conformance-pytmv1 proves it).
- A control API under /_fake/ for tests (seed keys, inspect state, configure, inject faults).

Every request outside /_fake/ is appended to LOGFILE as one JSON line (method, path, headers,
the Unix time it arrived, and body when there is one). It exits by itself after --lifetime seconds (default 600).

Defaults answer as Trend's own WireMock mock of Vision One does (trendmicro/tm-v1-api-mockup,
commit e21ef3c, src/main/resources/mappings/xdr/v3/api_keys/); where Trend's artifacts are silent
the behaviour is a switch in /_fake/config (docs/FAKE-VISIONONE.md lists every one and its source).
"""
import argparse, base64, calendar, collections, copy, datetime, hashlib, json, math, re, secrets, sys, threading, time, traceback, uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

ERRORS = {
    "e401": (401, "InvalidCredentials", "Invalid credentials."),
    "e403": (403, "AccessDenied", "The API key does not have permission to access this resource."),
    "e429": (429, "TooManyRequests", "Too many requests."),
    "e500": (500, "InternalServerError", "Internal server error."),
}
MAGIC = ("ok", "e401", "e403", "e429", "e500", "slow", "redirect", "manager-ok")
STATUS_CODES = {400: "BadRequest", 401: "InvalidCredentials", 403: "AccessDenied", 404: "NotFound",
                405: "MethodNotAllowed", 409: "Conflict", 412: "PreconditionFailed", 428: "PreconditionRequired",
                429: "TooManyRequests", 500: "InternalServerError", 502: "BadGateway", 503: "ServiceUnavailable",
                504: "GatewayTimeout"}
MONTHS = (0, 1, 3, 6, 12)
CONSOLE_DAYS = {1: 30, 3: 90, 6: 180, 12: 365}  # months = "console": the console's 90 / 180 days and 1 year
MONTH_MODES = ("calendar", "30d", "console")
ETAG_STYLES = ("bare", "quoted", "weak")
# The mock's 429 bodies (object/add_exception_429_too_many_requests.json: wrapped;
# object/get_exception_list_429_too_many_requests.json: bare).
TOO_MANY = {"code": "TooManyRequests", "message": "Too many requests"}
# The mock's only 412 (workbench/alert/edit_status_412_precondition_failed.json).
CONDITION_NOT_MET = {"code": "ConditionNotMet",
                     "message": "The target resource is not updated because of ETag unmatching. (Error code: 3090018)",
                     "number": 3090018}
UPDATABLE = ("name", "role", "status", "description")
STATUSES = ("enabled", "disabled")
FAULT_KINDS = ("status", "429", "drop", "drop-after", "504-after")
FILTER_FIELDS = {"id": "id", "name": "name", "status": "status", "role": "role", "description": "description"}
ORDER_FIELDS = ("createdDateTime", "name", "expiredDateTime", "lastUsedDateTime", "lastModifiedDateTime")
MCP_FILTER_FIELDS = ("id", "name", "role", "status")  # vision-one-mcp-server tooldescriptions.FilterApiKeys
API = "/v3.0/iam/apiKeys"


def _number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _strings(v):
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def _status(v):
    return isinstance(v, int) and not isinstance(v, bool) and 400 <= v <= 599


def _rate_limit(v):
    return v is None or (isinstance(v, dict) and not set(v) - {"requests", "window_s", "bare_body"}
                         and isinstance(v.get("requests"), int) and not isinstance(v.get("requests"), bool)
                         and v["requests"] >= 0 and _number(v.get("window_s", 60)) and v.get("window_s", 60) > 0)


# Every config key /_fake/config accepts besides now / never_expires / never_used (any JSON value):
# name -> (check, what the error message says it must be). Defaults: DEFAULTS in main().
CONFIG_CHECKS = {
    "latency_ms": (lambda v: _number(v) and v >= 0, "a number >= 0"),
    "propagation_ms": (lambda v: _number(v) and v >= 0, "a number >= 0"),
    "permitted_roles": (_strings, "a list of strings"),
    "allowed_top": (lambda v: v is None or (isinstance(v, list) and all(isinstance(t, int) and not isinstance(t, bool)
                                                                       and t > 0 for t in v)),
                    "a list of positive integers or null"),
    "create_location": (lambda v: isinstance(v, bool), "true or false"),
    "etag_style": (lambda v: v in ETAG_STYLES, "one of " + ", ".join(ETAG_STYLES)),
    "empty_items": (lambda v: v in ("null", "list"), "null or list (strings)"),
    "rate_limit": (_rate_limit, 'null or {"requests": N >= 0, "window_s": S > 0, "bare_body"?: bool}'),
    "forbidden_new_roles": (_strings, "a list of strings"),
    "forbidden_role_status": (_status, "an HTTP status 400-599"),
    "months": (lambda v: v in MONTH_MODES, "one of " + ", ".join(MONTH_MODES)),
    "uneditable_status": (_status, "an HTTP status 400-599"),
    "uneditable_delete": (lambda v: v in ("allow", "refuse"), "allow or refuse"),
    "last_used_lag_s": (lambda v: _number(v) and (v >= 0 or v == -1), "a number >= 0, or -1 (never moves)"),
    "connectivity_counts_as_use": (lambda v: isinstance(v, bool), "true or false"),
    "server_timeout_ms": (lambda v: v is None or (_number(v) and v > 0), "a number > 0 or null"),
    "max_body_bytes": (lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool) and v >= 0),
                       "an integer >= 0 or null"),
    "precondition_failed_code": (lambda v: v in ("ConditionNotMet", "PreconditionFailed"),
                                 "ConditionNotMet or PreconditionFailed"),
    "missing_if_match_status": (_status, "an HTTP status 400-599"),
    "missing_months": (lambda v: v is None or (v in MONTHS and not isinstance(v, bool)), "null or one of 0, 1, 3, 6, 12"),
    "filter_extensions": (lambda v: isinstance(v, bool), "true or false"),
    "max_filter_length": (lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool) and v > 0),
                          "a positive integer or null"),
    "order_by_fields": (lambda v: _strings(v) and v and all(f in ORDER_FIELDS for f in v),
                        "a non-empty list drawn from " + ", ".join(ORDER_FIELDS)),
}


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def fmt(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text):
    """ISO 8601 → aware UTC datetime, or ValueError."""
    if not isinstance(text, str) or not text:
        raise ValueError("not a date-time")
    dt = datetime.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=datetime.timezone.utc)
    return dt.astimezone(datetime.timezone.utc)


def add_months(dt, months):
    y, m = divmod(dt.month - 1 + months, 12)
    y += dt.year
    return dt.replace(year=y, month=m + 1, day=min(dt.day, calendar.monthrange(y, m + 1)[1]))


def expiry(now, months, mode):
    """now + monthsToExpiration as the configured reading (`months`: calendar | 30d | console)."""
    if mode == "30d":
        return now + datetime.timedelta(days=30 * months)
    if mode == "console":
        return now + datetime.timedelta(days=CONSOLE_DAYS.get(months, 30 * months))
    return add_months(now, months)


def element_error(status, code=None, message=None):
    """A failed 207 element, in the shape of the mock's 207-400/403/500 elements (no innererror)."""
    return {"status": status, "body": {"error": {"code": code or STATUS_CODES.get(status, "Error"),
                                                 "message": message or "Error %d." % status}}}


def error_body(status, code=None, message=None):
    return {"error": {"code": code or STATUS_CODES.get(status, "Error"), "message": message or "Error %d." % status,
                      "innererror": {}}}


class ApiError(Exception):
    def __init__(self, status, code=None, message=None, headers=()):
        super().__init__(message)
        self.status, self.body, self.headers = status, error_body(status, code, message), list(headers)


class BadControl(Exception):
    pass


def sha256(text):
    return hashlib.sha256(text.encode()).hexdigest()


JWT_HEADER = b64url(json.dumps({"typ": "JWT", "alg": "RS256"}, separators=(",", ":")).encode())


def new_token(key_id, iat, exp):
    """A JWT-shaped random token, 900-1100 characters of [A-Za-z0-9_.-], free of the magic substrings."""
    while True:
        target = 900 + secrets.randbelow(201)
        signature = b64url(secrets.token_bytes(256))  # 342 characters, like an RS256 signature
        claims = {"cid": str(uuid.uuid4()), "cpid": "svp", "ppid": "fake-visionone", "it": iat, "et": exp,
                  "id": key_id, "jti": str(uuid.uuid4()), "pl": ""}
        room = (target - len(JWT_HEADER) - len(signature) - 2) * 3 // 4 - len(json.dumps(claims, separators=(",", ":")))
        claims["pl"] = secrets.token_urlsafe(max(room, 0))[:max(room, 0)]
        token = "%s.%s.%s" % (JWT_HEADER, b64url(json.dumps(claims, separators=(",", ":")).encode()), signature)
        if not any(m in token for m in MAGIC):
            return token


class Key:
    __slots__ = ("id", "name", "role", "status", "description", "expires", "last_used", "created", "modified", "seq",
                 "value_sha256", "etag", "deleted", "usable_after", "source", "editable", "ip_allow_list")

    def public(self, cfg):
        """The ApiKey as the API answers it: exactly the members of the mock's get_api_key_200.json (and
        of the SDK's model.common.ApiKey), in the mock's order. No createdDateTime, no IP allow-list."""
        return {"id": self.id, "name": self.name, "status": self.status, "role": self.role,
                "description": self.description,
                "lastUsedDateTime": fmt(self.last_used) if self.last_used else cfg["never_used"],
                "expiredDateTime": fmt(self.expires) if self.expires else cfg["never_expires"]}


class State:
    def __init__(self, defaults):
        self.lock = threading.Lock()
        self.defaults = defaults
        self.reset()

    def reset(self):
        self.keys = {}  # id -> Key, deleted ones included
        self.by_value = {}  # sha256(value) -> Key
        self.by_name = {}  # name -> Key, live keys only
        self.seq = 0
        self.faults = []
        self.counters = {}
        self.cfg = copy.deepcopy(self.defaults)
        self.offset = 0.0  # seconds added to the real clock ("now" override)
        self.admitted = collections.deque()  # monotonic times of requests the rate limiter let through

    # -- time --
    def now(self):
        t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=self.offset)
        return t.replace(microsecond=0)

    def expiry(self, months):
        return expiry(self.now(), months, self.cfg["months"]) if months else None

    def rate_limited(self):
        """The built-in limiter (config rate_limit): True when this request is one too many."""
        rl = self.cfg["rate_limit"]
        if not rl:
            return False
        t = time.monotonic()
        while self.admitted and self.admitted[0] <= t - rl["window_s"]:
            self.admitted.popleft()
        if len(self.admitted) >= rl["requests"]:
            return True
        self.admitted.append(t)
        return False

    # -- keys --
    def new_etag(self):
        return secrets.token_hex(16)  # 32 hex digits, like the mock's "d41d8cd98f00b204e9800998ecf8427e"

    def etag_header(self, k):
        """The ETag as the header carries it (config etag_style)."""
        style = self.cfg["etag_style"]
        return k.etag if style == "bare" else '"%s"' % k.etag if style == "quoted" else 'W/"%s"' % k.etag

    def touch(self, k, via_iam):
        """A use of the key: maybe move lastUsedDateTime (last_used_lag_s, connectivity_counts_as_use)."""
        if not via_iam and not self.cfg["connectivity_counts_as_use"]:
            return
        lag, now = self.cfg["last_used_lag_s"], self.now()
        if lag < 0:
            return
        if lag == 0 or k.last_used is None or (now - k.last_used).total_seconds() > lag:
            k.last_used = now

    def make_key(self, name, role, status="enabled", description=None, expires=None, last_used=None,
                 created=None, value=None, usable_after=0.0, source="api", editable=True, ip_allow_list=None):
        now = self.now()
        k = Key()
        k.id = str(uuid.uuid4())
        k.name, k.role, k.status, k.description = name, role, status, description
        k.expires, k.last_used = expires, last_used
        k.created = created or now
        k.modified = now
        k.editable, k.ip_allow_list = editable, list(ip_allow_list or [])
        self.seq += 1
        k.seq = self.seq
        if value is None:
            value = new_token(k.id, int(now.timestamp()), int(expires.timestamp()) if expires else 0)
        k.value_sha256 = sha256(value)
        k.etag = self.new_etag()
        k.deleted = False
        k.usable_after = usable_after
        k.source = source
        self.keys[k.id] = k
        self.by_value[k.value_sha256] = k
        self.by_name[name] = k
        return k, value

    def lookup(self, token):
        return self.by_value.get(sha256(token)) if token else None

    def usable(self, k):
        return (not k.deleted and k.status == "enabled" and (k.expires is None or self.now() < k.expires)
                and time.monotonic() >= k.usable_after)

    def live(self, key_id):
        k = self.keys.get(key_id)
        return k if k and not k.deleted else None

    def delete(self, k):
        k.deleted = True
        k.etag = self.new_etag()
        if self.by_name.get(k.name) is k:
            del self.by_name[k.name]

    def rename(self, k, name):
        if self.by_name.get(k.name) is k:
            del self.by_name[k.name]
        k.name = name
        self.by_name[name] = k

    def key_state(self, k):
        """A key as /_fake/state shows it: the ApiKey plus what the API never shows."""
        d = k.public(self.cfg)
        d.update({"deleted": k.deleted, "createdDateTime": fmt(k.created), "lastModifiedDateTime": fmt(k.modified),
                  "etag": self.etag_header(k), "value_sha256": k.value_sha256, "source": k.source,
                  "propagated": time.monotonic() >= k.usable_after, "editable": k.editable,
                  "ipAllowList": list(k.ip_allow_list)})
        return d

    def state_json(self):
        out = [self.key_state(k) for k in sorted(self.keys.values(), key=lambda k: k.seq)]
        return {"keys": out, "requests": dict(self.counters), "faults": list(self.faults), "config": self.config_json(),
                "now": fmt(self.now())}

    def config_json(self):
        c = dict(self.cfg)
        c["now"] = fmt(self.now()) if self.offset else None
        return c

    # -- faults --
    def take_fault(self, method, path):
        """The fault that fires for this request, if any; counts every matching request."""
        fired = None
        for f in self.faults:
            if f["method"] not in (None, method) or not path.startswith(f["path"]):
                continue
            f["seen"] += 1
            if fired is None and f["seen"] >= f["nth"] and (f["count"] < 0 or f["fired"] < f["count"]):
                f["fired"] += 1
                fired = dict(f)
        self.faults = [f for f in self.faults if f["count"] < 0 or f["fired"] < f["count"]]
        return fired


# ---------------------------------------------------------------- TMV1-Filter

TOKEN_RE = re.compile(r"\s*(?:(\()|(\))|'((?:[^']|'')*)'|([A-Za-z_][A-Za-z0-9_]*))")


def parse_filter(text, extensions=True):
    """`field eq 'v'` / `field ne 'v'`, joined by `and` / `or` (and binds tighter), parentheses, `not`.
    Without extensions only what the MCP server documents (fields id, name, role, status; eq, and, or,
    not, parentheses). Returns a predicate over public key dicts; raises ValueError."""
    toks, pos, text = [], 0, text.strip()
    while pos < len(text):
        m = TOKEN_RE.match(text, pos)
        if not m or m.end() == pos:
            raise ValueError("cannot parse TMV1-Filter at %r" % text[pos:pos + 20])
        pos = m.end()
        if m.group(1):
            toks.append(("(", None))
        elif m.group(2):
            toks.append((")", None))
        elif m.group(3) is not None:
            toks.append(("str", m.group(3).replace("''", "'")))
        else:
            toks.append(("word", m.group(4)))
        while pos < len(text) and text[pos].isspace():
            pos += 1
    i = [0]

    def peek_word(*words):
        return i[0] < len(toks) and toks[i[0]][0] == "word" and toks[i[0]][1].lower() in words

    def expr():
        left = term()
        while peek_word("or"):
            i[0] += 1
            right = term()
            left = (lambda a, b: lambda d: a(d) or b(d))(left, right)
        return left

    def term():
        left = factor()
        while peek_word("and"):
            i[0] += 1
            right = factor()
            left = (lambda a, b: lambda d: a(d) and b(d))(left, right)
        return left

    def factor():
        if i[0] >= len(toks):
            raise ValueError("TMV1-Filter ends early")
        kind, val = toks[i[0]]
        if kind == "(":
            i[0] += 1
            inner = expr()
            if i[0] >= len(toks) or toks[i[0]][0] != ")":
                raise ValueError("missing ) in TMV1-Filter")
            i[0] += 1
            return inner
        if peek_word("not"):
            i[0] += 1
            inner = factor()
            return lambda d: not inner(d)
        if kind != "word" or val not in (FILTER_FIELDS if extensions else MCP_FILTER_FIELDS):
            raise ValueError("unsupported field %r in TMV1-Filter" % val)
        field = FILTER_FIELDS[val]
        i[0] += 1
        if not peek_word(*(("eq", "ne") if extensions else ("eq",))):
            raise ValueError("expected %s after %s" % ("eq or ne" if extensions else "eq", val))
        op = toks[i[0]][1].lower()
        i[0] += 1
        if i[0] >= len(toks) or toks[i[0]][0] != "str":
            raise ValueError("expected a quoted value after %s %s" % (val, op))
        want = toks[i[0]][1]
        i[0] += 1
        if op == "eq":
            return lambda d: d.get(field) == want
        return lambda d: d.get(field) != want

    pred = expr()
    if i[0] != len(toks):
        raise ValueError("unexpected %r in TMV1-Filter" % (toks[i[0]][1] or toks[i[0]][0]))
    return pred


# ---------------------------------------------------------------- HTTP


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        # A client killed mid-request (the SIGKILL trials) is expected, not a fake bug.
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    # -- plumbing --
    def send(self, status, body, headers=(), trace=None):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("x-trace-id", trace or "trace-%d-%s" % (status, uuid.uuid4()))
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def reply(self, status, body, headers=()):
        """An answer with the original connectivity-only fake's trace id."""
        return status, body, list(headers), "trace-%d-%s" % (status, self.path.strip("/").replace("/", "-"))

    def bearer(self):
        auth = self.headers.get("Authorization", "")
        return auth[len("Bearer "):] if auth.startswith("Bearer ") else ""

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def dispatch(self, method):
        state = self.server.state
        raw = self.read_body()
        path = urlsplit(self.path).path
        if path.startswith("/_fake/"):
            return self.control(method, path, raw)
        with state.lock:
            cfg = state.cfg
            too_big = cfg["max_body_bytes"] is not None and len(raw) > cfg["max_body_bytes"]
            entry = {"method": method, "path": self.path, "headers": dict(self.headers.items()), "at": round(time.time(), 6)}
            if raw and too_big:
                entry["body_bytes"] = len(raw)  # an oversized body is not copied into the log
            elif raw:
                try:
                    entry["body"] = json.loads(raw)
                except ValueError:
                    entry["body"] = raw.decode("utf-8", "replace")
            with open(self.server.logfile, "a") as f:
                f.write(json.dumps(entry) + "\n")
            endpoint = self.endpoint(method, path)
            state.counters[endpoint] = state.counters.get(endpoint, 0) + 1
            limited = state.rate_limited()
            fault = None if limited else state.take_fault(method, path)
            latency, timeout = cfg["latency_ms"], cfg["server_timeout_ms"]
            rate_limit = cfg["rate_limit"]
        timed_out = timeout is not None and timeout > 0 and latency >= timeout
        kind = fault["kind"] if fault else None
        # Answers given before any processing: the rate limiter, status / 429 / drop faults, 413.
        if limited or kind in ("drop", "status", "429") or too_big:
            wait = min(latency, timeout) if timed_out else latency
            if wait:
                time.sleep(wait / 1000.0)
            if limited:
                return self.send(429, dict(TOO_MANY) if rate_limit.get("bare_body") else {"error": dict(TOO_MANY)})
            if kind == "drop":
                self.close_connection = True
                return
            if kind in ("status", "429"):
                status = 429 if kind == "429" else fault["status"]
                headers = list(fault["headers"].items())
                if kind == "429" and fault["retry_after"] is not None:
                    headers.append(("Retry-After", str(fault["retry_after"])))
                code = fault["code"] or STATUS_CODES.get(status, "Error")
                if kind == "429":  # the mock's 429 bodies: {"error": {code, message}} or, bare, {code, message}
                    err = {"code": code, "message": fault["message"] or TOO_MANY["message"]}
                else:
                    err = error_body(status, code, fault["message"])["error"]
                    if fault["bare_body"]:
                        del err["innererror"]
                return self.send(status, err if fault["bare_body"] else {"error": err}, headers)
            return self.send(413, {"error": {"code": "RequestEntityTooLarge",
                                             "message": "The request body is larger than %d bytes." % cfg["max_body_bytes"]}})
        if latency and not timed_out:
            time.sleep(latency / 1000.0)
        try:
            answer = self.route(method, path, raw)
        except ApiError as e:
            answer = (e.status, e.body, e.headers)
        except Exception:
            traceback.print_exc()
            answer = (500, error_body(500, "InternalServerError", "Internal server error."), [])
        if timed_out:
            time.sleep(timeout / 1000.0)
        if kind == "drop-after":
            self.close_connection = True
            return
        if kind == "504-after" or timed_out:
            return self.send(504, error_body(504, "GatewayTimeout", "The server did not answer in time."))
        if answer is not None:
            self.send(*answer)

    @staticmethod
    def endpoint(method, path):
        if path == API or path == API + "/delete":
            return "%s %s" % (method, path)
        if path.startswith(API + "/"):
            return "%s %s/{id}" % (method, API)
        if path == "/v3.0/healthcheck/connectivity":
            return "%s %s" % (method, path)
        return "%s other" % method

    def route(self, method, path, raw):
        if path == "/elsewhere" and method == "GET":
            return self.reply(200, {"status": "available"})
        if path == "/v3.0/healthcheck/connectivity" and method == "GET":
            return self.connectivity()
        if path == API or path.startswith(API + "/"):
            allowed = {API: ("GET", "POST"), API + "/delete": ("POST",)}.get(path, ("GET", "PATCH"))
            if method not in allowed:
                raise ApiError(405, "MethodNotAllowed", "Method not allowed.", [("Allow", ", ".join(allowed))])
            self.authorize()
            if path == API:
                return self.create(raw) if method == "POST" else self.list()
            if path == API + "/delete":
                return self.delete(raw)
            key_id = path[len(API) + 1:]
            return self.get(key_id) if method == "GET" else self.update(key_id, raw)
        return self.reply(404, {"error": {"code": "NotFound", "message": "Not found."}})

    # -- connectivity (magic tokens kept exactly) --
    def connectivity(self):
        state = self.server.state
        token = self.bearer()
        with state.lock:
            k = state.lookup(token)
            if k is not None:
                if state.usable(k):
                    state.touch(k, via_iam=False)
                    ok = True
                else:
                    ok = False
        if k is not None:
            if ok:
                return self.reply(200, {"status": "available"})
            return self.reply(401, {"error": {"code": "InvalidCredentials", "message": "Invalid credentials.", "innererror": {}}})
        if "slow" in token:
            time.sleep(30)
        if "redirect" in token:
            return self.reply(302, {}, [("Location", "http://127.0.0.1:%d/elsewhere" % self.server.server_address[1])])
        for key, (status, code, message) in ERRORS.items():
            if key in token:
                return self.reply(status, {"error": {"code": code, "message": message, "innererror": {"code": code + "Detail"}}})
        if "ok" in token:
            return self.reply(200, {"status": "available"})
        return self.reply(401, {"error": {"code": "InvalidCredentials", "message": "Invalid credentials.", "innererror": {}}})

    # -- iam --
    def authorize(self):
        state = self.server.state
        token = self.bearer()
        with state.lock:
            k = state.lookup(token)
            if k is not None:
                if not state.usable(k):
                    raise ApiError(401, "InvalidCredentials", "Invalid credentials.")
                state.touch(k, via_iam=True)
                if k.role not in state.cfg["permitted_roles"]:
                    raise ApiError(403, "AccessDenied", "The API key does not have permission to access this resource.")
                return
        if "manager-ok" not in token:
            raise ApiError(401, "InvalidCredentials", "Invalid credentials.")

    def json_body(self, raw):
        try:
            return json.loads(raw or b"null")
        except ValueError:
            raise ApiError(400, "BadRequest", "The request body is not valid JSON.")

    def create(self, raw):
        state = self.server.state
        items = self.json_body(raw)
        if not isinstance(items, list) or not items:
            raise ApiError(400, "BadRequest", "The request body must be a non-empty JSON array.")
        out = []
        host = self.headers.get("Host") or "127.0.0.1:%d" % self.server.server_address[1]
        with state.lock:
            for item in items:
                try:
                    out.append(self.create_one(state, item, host))
                except ApiError as e:
                    out.append(element_error(e.status, e.body["error"]["code"], e.body["error"]["message"]))
        return 207, out

    @staticmethod
    def role_refusal(state):
        """The answer to giving a role in forbidden_new_roles (status and code per forbidden_role_status)."""
        status = state.cfg["forbidden_role_status"]
        return ApiError(status, STATUS_CODES.get(status, "Error"), "The role cannot be assigned to API keys.")

    @staticmethod
    def create_one(state, item, host):
        if not isinstance(item, dict):
            raise ApiError(400, "BadRequest", "Each element must be a JSON object.")
        unknown = set(item) - {"name", "role", "monthsToExpiration", "description", "status"}
        if unknown:
            raise ApiError(400, "BadRequest", "Unknown field(s): %s." % ", ".join(sorted(unknown)))
        name, role, months = item.get("name"), item.get("role"), item.get("monthsToExpiration", state.cfg["missing_months"])
        status, description = item.get("status", "enabled"), item.get("description")
        if not isinstance(name, str) or not name.strip() or len(name) > 255:
            raise ApiError(400, "BadRequest", "name is required (1-255 characters).")
        if not isinstance(role, str) or not role.strip():
            raise ApiError(400, "BadRequest", "role is required.")
        if role in state.cfg["forbidden_new_roles"]:
            raise Handler.role_refusal(state)
        if isinstance(months, bool) or months not in MONTHS:
            raise ApiError(400, "BadRequest", "monthsToExpiration must be one of 0, 1, 3, 6, 12.")
        if status not in STATUSES:
            raise ApiError(400, "BadRequest", "status must be enabled or disabled.")
        if description is not None and (not isinstance(description, str) or len(description) > 1024):
            raise ApiError(400, "BadRequest", "description must be a string (at most 1024 characters).")
        if name in state.by_name:
            raise ApiError(400, "BadRequest", "An API key named '%s' already exists." % name)
        k, value = state.make_key(name, role, status, description, state.expiry(months),
                                  usable_after=time.monotonic() + state.cfg["propagation_ms"] / 1000.0)
        element = {"status": 201}
        if state.cfg["create_location"]:  # as the mock's create_api_keys_207_202.json ({{request.baseUrl}})
            element["headers"] = [{"name": "Location", "value": "http://%s%s/%s" % (host, API, k.id)}]
        element["body"] = {"id": k.id, "value": value, "expiredDateTime": k.public(state.cfg)["expiredDateTime"]}
        return element

    def list(self):
        state = self.server.state
        query = parse_qs(urlsplit(self.path).query, keep_blank_values=True)
        one = lambda name: query[name][-1] if name in query else None
        top = one("top")
        allowed_top = state.cfg["allowed_top"]
        try:
            top = 50 if top is None else int(top)
        except ValueError:
            raise ApiError(400, "BadRequest", "top must be an integer.")
        if (allowed_top and top not in allowed_top) or not 1 <= top <= 1000:
            raise ApiError(400, "BadRequest", "top must be one of %s." % ", ".join(map(str, allowed_top))
                           if allowed_top else "top must be 1-1000.")
        skip = one("skipToken")
        if skip is not None:
            try:
                tok = json.loads(base64.urlsafe_b64decode(skip + "=" * (-len(skip) % 4)))
                order_by, filt, after = tok["o"], tok["f"], tok["a"]
            except Exception:
                raise ApiError(400, "BadRequest", "Invalid skipToken.")
        else:
            order_by, filt, after = one("orderBy") or "createdDateTime desc", self.headers.get("TMV1-Filter"), None
        parts = order_by.split()
        if not parts or parts[0] not in ORDER_FIELDS or len(parts) > 2 or (len(parts) == 2 and parts[1].lower() not in ("asc", "desc")):
            raise ApiError(400, "BadRequest", "orderBy must be one of %s, optionally followed by asc or desc." % ", ".join(ORDER_FIELDS))
        if parts[0] not in state.cfg["order_by_fields"]:
            raise ApiError(400, "BadRequest", "orderBy must be one of %s." % ", ".join(state.cfg["order_by_fields"]))
        field, desc = parts[0], len(parts) == 2 and parts[1].lower() == "desc"
        limit = state.cfg["max_filter_length"]
        if filt and limit is not None and len(filt) > limit:
            raise ApiError(400, "BadRequest", "TMV1-Filter is longer than %d characters." % limit)
        try:
            pred = parse_filter(filt, state.cfg["filter_extensions"]) if filt and filt.strip() else (lambda d: True)
        except ValueError as e:
            raise ApiError(400, "BadRequest", str(e))

        def sort_key(k):
            if field == "createdDateTime":
                v = k.created.timestamp()
            elif field == "name":
                v = k.name
            elif field == "expiredDateTime":
                v = k.expires.timestamp() if k.expires else math.inf
            elif field == "lastModifiedDateTime":
                v = k.modified.timestamp()
            else:
                v = k.last_used.timestamp() if k.last_used else -math.inf
            return [v, k.seq]

        with state.lock:
            rows = []
            for k in state.keys.values():
                if k.deleted:
                    continue
                d = k.public(state.cfg)
                if pred(d):
                    rows.append((sort_key(k), d))
        rows.sort(key=lambda r: r[0], reverse=desc)
        total = len(rows)
        if after is not None:
            after = [math.inf if a == "inf" else -math.inf if a == "-inf" else a for a in after]
            rows = [r for r in rows if (r[0] < after if desc else r[0] > after)]
        page = rows[:top]
        items = [d for _, d in page]
        if not items and state.cfg["empty_items"] == "null":
            items = None  # the SDK's BaseLinkableResp maps a null items to []
        body = {"totalCount": total, "count": len(page), "items": items}
        if len(rows) > top:
            last = [("inf" if a == math.inf else "-inf" if a == -math.inf else a) for a in page[-1][0]]
            tok = b64url(json.dumps({"o": order_by, "f": filt, "a": last}, separators=(",", ":")).encode())
            host = self.headers.get("Host") or "127.0.0.1:%d" % self.server.server_address[1]
            body["nextLink"] = "http://%s%s?%s" % (host, API, urlencode({"top": top, "skipToken": tok}))
        return 200, body

    def get(self, key_id):
        state = self.server.state
        with state.lock:
            k = state.live(key_id)
            if k is None:
                raise ApiError(404, "NotFound", "The API key does not exist.")
            return 200, k.public(state.cfg), [("ETag", state.etag_header(k))]

    def update(self, key_id, raw):
        state = self.server.state
        body = self.json_body(raw)
        with state.lock:
            k = state.live(key_id)
            if k is None:
                raise ApiError(404, "NotFound", "The API key does not exist.")
            if not k.editable:  # a key moved from the old User Accounts app
                status = state.cfg["uneditable_status"]
                raise ApiError(status, STATUS_CODES.get(status, "Error"), "The API key cannot be modified.")
            match = (self.headers.get("If-Match") or "").strip()
            if not match:
                status = state.cfg["missing_if_match_status"]
                raise ApiError(status, STATUS_CODES.get(status, "Error"), "The If-Match header is required.")
            if match.startswith("W/"):
                match = match[2:]
            if match.strip('"') != k.etag:
                if state.cfg["precondition_failed_code"] == "ConditionNotMet":
                    e = ApiError(412)
                    e.body = {"error": dict(CONDITION_NOT_MET)}
                    raise e
                raise ApiError(412, "PreconditionFailed", "The ETag does not match the current version of the API key.")
            if not isinstance(body, dict) or not body:
                raise ApiError(400, "BadRequest", "The request body must be a JSON object with any of name, role, status, description.")
            unknown = set(body) - set(UPDATABLE)
            if unknown:
                raise ApiError(400, "BadRequest", "Field(s) cannot be updated: %s." % ", ".join(sorted(unknown)))
            name = body.get("name", k.name)
            if not isinstance(name, str) or not name.strip() or len(name) > 255:
                raise ApiError(400, "BadRequest", "name must be 1-255 characters.")
            if name != k.name and name in state.by_name:
                raise ApiError(400, "BadRequest", "An API key named '%s' already exists." % name)
            role = body.get("role", k.role)
            if not isinstance(role, str) or not role.strip():
                raise ApiError(400, "BadRequest", "role must be a non-empty string.")
            if role != k.role and role in state.cfg["forbidden_new_roles"]:
                raise self.role_refusal(state)
            status = body.get("status", k.status)
            if status not in STATUSES:
                raise ApiError(400, "BadRequest", "status must be enabled or disabled.")
            description = body.get("description", k.description)
            if description is not None and (not isinstance(description, str) or len(description) > 1024):
                raise ApiError(400, "BadRequest", "description must be a string (at most 1024 characters).")
            if name != k.name:
                state.rename(k, name)
            k.role, k.status, k.description = role, status, description
            k.etag = state.new_etag()
            k.modified = state.now()
        return 204, None

    def delete(self, raw):
        state = self.server.state
        items = self.json_body(raw)
        if not isinstance(items, list) or not items:
            raise ApiError(400, "BadRequest", "The request body must be a non-empty JSON array.")
        out = []
        with state.lock:
            for item in items:
                key_id = item.get("id") if isinstance(item, dict) else None
                if not isinstance(key_id, str):
                    out.append(element_error(400, "BadRequest", "Each element needs an id."))
                    continue
                k = state.live(key_id)
                if k is None:
                    out.append(element_error(404, "NotFound", "The API key does not exist."))
                    continue
                if not k.editable and state.cfg["uneditable_delete"] == "refuse":
                    out.append(element_error(state.cfg["uneditable_status"], None, "The API key cannot be deleted."))
                    continue
                state.delete(k)
                out.append({"status": 204})
        return 207, out

    # -- control API (not logged, no latency, no faults) --
    def control(self, method, path, raw):
        state = self.server.state
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            return self.send(400, {"error": "body is not JSON"})
        try:
            with state.lock:
                answer = self.control_locked(state, method, path, body)
        except BadControl as e:
            return self.send(400, {"error": str(e)})
        if answer is None:
            return self.send(404, {"error": "no such control endpoint: %s %s" % (method, path)})
        self.send(200, answer)

    def control_locked(self, state, method, path, body):
        if method == "GET" and path == "/_fake/state":
            return state.state_json()
        if method == "POST" and path == "/_fake/reset":
            state.reset()
            return {"reset": True}
        if path == "/_fake/config" and method in ("GET", "POST"):
            if method == "POST":
                self.configure(state, body)
            return state.config_json()
        if path == "/_fake/faults" and method == "GET":
            return {"faults": list(state.faults)}
        if path == "/_fake/faults" and method == "POST":
            for spec in body if isinstance(body, list) else [body]:
                state.faults.append(self.fault_spec(spec))
            return {"faults": list(state.faults)}
        if path == "/_fake/faults/clear" and method == "POST":
            state.faults = []
            return {"faults": []}
        if path == "/_fake/keys" and method == "POST":
            return self.seed(state, body or {})
        if path == "/_fake/keys/bulk" and method == "POST":
            return self.bulk(state, body or {})
        if path.startswith("/_fake/keys/") and method == "POST":
            return self.poke(state, path[len("/_fake/keys/"):], body or {})
        return None

    @staticmethod
    def configure(state, body):
        """Validate the whole body first, then apply it (a bad key changes nothing)."""
        if not isinstance(body, dict):
            raise BadControl("config body must be an object")
        unknown = set(body) - set(CONFIG_CHECKS) - {"now", "never_expires", "never_used"}
        if unknown:
            raise BadControl("unknown config key(s): %s" % ", ".join(sorted(unknown)))
        for name, value in body.items():
            if name in CONFIG_CHECKS:
                check, wanted = CONFIG_CHECKS[name]
                if not check(value):
                    raise BadControl("%s must be %s" % (name, wanted))
        target = None
        if body.get("now") is not None:
            try:
                target = parse_time(body["now"])
            except ValueError:
                raise BadControl("now must be an ISO 8601 date-time or null")
        for name, value in body.items():
            if name == "now":
                state.offset = 0.0 if target is None else (target - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
            elif name == "rate_limit" and value is not None:
                state.cfg[name] = {"requests": value["requests"], "window_s": value.get("window_s", 60),
                                   "bare_body": bool(value.get("bare_body", False))}
                state.admitted.clear()
            else:
                state.cfg[name] = copy.deepcopy(value)
                if name == "rate_limit":
                    state.admitted.clear()

    @staticmethod
    def fault_spec(spec):
        if not isinstance(spec, dict):
            raise BadControl("a fault must be an object")
        kind = str(spec.get("kind", "status"))
        if kind not in FAULT_KINDS:
            raise BadControl("fault kind must be one of " + ", ".join(FAULT_KINDS))
        status = spec.get("status", 429 if kind == "429" else 504 if kind == "504-after" else 500)
        if not isinstance(status, int) or not 100 <= status <= 599:
            raise BadControl("fault status must be an HTTP status")
        count, nth = spec.get("count", 1), spec.get("nth", 1)
        if not isinstance(count, int) or count == 0 or not isinstance(nth, int) or nth < 1:
            raise BadControl("count must be a non-zero integer (-1 = always), nth an integer >= 1")
        retry_after = spec.get("retry_after")
        if retry_after is not None and (not isinstance(retry_after, (int, str)) or isinstance(retry_after, bool)):
            raise BadControl("retry_after must be an integer or a string (the header's text)")
        if not isinstance(spec.get("bare_body", False), bool):
            raise BadControl("bare_body must be true or false")
        method = spec.get("method")
        return {"kind": kind, "method": method.upper() if method else None, "path": spec.get("path", "/"),
                "status": status, "code": spec.get("code"), "message": spec.get("message"),
                "retry_after": retry_after, "bare_body": spec.get("bare_body", False),
                "headers": dict(spec.get("headers") or {}), "count": count, "nth": nth, "seen": 0, "fired": 0}

    @staticmethod
    def key_fields(state, body, k=None):
        """Validated attributes from a control-API key description."""
        out = {}
        if "name" in body:
            if not isinstance(body["name"], str) or not body["name"]:
                raise BadControl("name must be a non-empty string")
            if body["name"] in state.by_name and state.by_name[body["name"]] is not k:
                raise BadControl("an API key named %r already exists" % body["name"])
            out["name"] = body["name"]
        if "status" in body:
            if body["status"] not in STATUSES:
                raise BadControl("status must be enabled or disabled")
            out["status"] = body["status"]
        for name, attr in (("role", "role"), ("description", "description")):
            if name in body:
                out[attr] = body[name]
        for name, attr in (("expiredDateTime", "expires"), ("lastUsedDateTime", "last_used"), ("createdDateTime", "created")):
            if name in body:
                v = body[name]
                if v is None or (v in ("never", "") and name != "createdDateTime"):
                    out[attr] = None
                else:
                    try:
                        out[attr] = parse_time(v)
                    except ValueError:
                        raise BadControl("%s must be an ISO 8601 date-time or null" % name)
        if "monthsToExpiration" in body:
            m = body["monthsToExpiration"]
            if not isinstance(m, int) or isinstance(m, bool) or m < 0:
                raise BadControl("monthsToExpiration must be an integer >= 0")
            out["expires"] = state.expiry(m)
        if "editable" in body:
            if not isinstance(body["editable"], bool):
                raise BadControl("editable must be true or false")
            out["editable"] = body["editable"]
        if "ipAllowList" in body:
            if not _strings(body["ipAllowList"]):
                raise BadControl("ipAllowList must be a list of strings")
            out["ip_allow_list"] = list(body["ipAllowList"])
        return out

    def seed(self, state, body):
        if not isinstance(body, dict) or "name" not in body:
            raise BadControl("a seeded key needs at least a name")
        f = self.key_fields(state, body)
        value = body.get("value")
        if value is not None and (not isinstance(value, str) or not value or state.lookup(value)):
            raise BadControl("value must be a non-empty string not already used by a key")
        propagated = body.get("propagated", True)
        k, value = state.make_key(f["name"], f.get("role", "Master Administrator"), f.get("status", "enabled"),
                                  f.get("description"), f.get("expires", state.expiry(12)), f.get("last_used"),
                                  f.get("created"), value,
                                  0.0 if propagated else time.monotonic() + state.cfg["propagation_ms"] / 1000.0, "seed",
                                  f.get("editable", True), f.get("ip_allow_list"))
        out = state.key_state(k)
        out["value"] = value
        return out

    def bulk(self, state, body):
        count, prefix = body.get("count"), body.get("prefix", "k")
        if not isinstance(count, int) or not 0 < count <= 100000 or not isinstance(prefix, str):
            raise BadControl("bulk needs count (1-100000) and a string prefix")
        width = max(4, len(str(count)))
        names = ["%s%0*d" % (prefix, width, i) for i in range(1, count + 1)]
        clash = [n for n in names if n in state.by_name]
        if clash:
            raise BadControl("name(s) already exist, e.g. %r" % clash[0])
        template = self.key_fields(state, {k: v for k, v in body.items() if k not in ("count", "prefix", "name")})
        expires = state.expiry(12)
        out = []
        for n in names:
            k, value = state.make_key(n, template.get("role", "Master Administrator"), template.get("status", "enabled"),
                                      template.get("description"), template.get("expires", expires),
                                      template.get("last_used"), template.get("created"), None, 0.0, "seed",
                                      template.get("editable", True), template.get("ip_allow_list"))
            out.append({"id": k.id, "name": n, "value": value})
        return {"count": len(out), "keys": out}

    def poke(self, state, key_id, body):
        k = state.keys.get(key_id)
        if k is None:
            raise BadControl("no key with id %r" % key_id)
        if not isinstance(body, dict):
            raise BadControl("body must be an object")
        f = self.key_fields(state, body, k)
        if "name" in f:
            state.rename(k, f.pop("name"))
        for attr, v in f.items():
            setattr(k, attr, v)
        if body.get("deleted") is True and not k.deleted:
            state.delete(k)
        if body.get("propagated") is True:
            k.usable_after = 0.0
        k.etag = state.new_etag()
        k.modified = state.now()
        return state.key_state(k)


# The config /_fake/reset returns to (the command line sets latency_ms and propagation_ms). Sources and
# alternatives of each: docs/FAKE-VISIONONE.md, "Readings where the sources are silent or disagree".
DEFAULTS = {
    "latency_ms": 0, "propagation_ms": 0,
    "permitted_roles": ["Master Administrator", "API Keys Manager"],
    "allowed_top": [50, 100, 200],                      # MCP server: top enum "50", "100", "200"
    "never_expires": "9999-12-31T23:59:59Z",            # invented: no source
    "never_used": "0001-01-01T00:00:00Z",               # invented: no source
    "create_location": True,                            # mock: create_api_keys_207_202.json
    "etag_style": "bare",                               # mock: get_api_key_200.json
    "empty_items": "null",                              # visionone-api.md; SDK BaseLinkableResp
    "rate_limit": None,                                 # no numbers in any source
    "forbidden_new_roles": ["Master Administrator"],    # Trend help "API Keys" (visionone-api.md)
    "forbidden_role_status": 400,                       # invented: no source
    "months": "calendar",                               # invented: no source
    "uneditable_status": 400,                           # invented: no source
    "uneditable_delete": "allow",                       # invented: no source
    "last_used_lag_s": 0,                               # invented: no source
    "connectivity_counts_as_use": True,                 # invented: no source
    "server_timeout_ms": 60000,                         # visionone-api.md: 504 after 60 s
    "max_body_bytes": 1048576,                          # visionone-api.md: 413 over 1 MB (1 MiB read)
    "precondition_failed_code": "ConditionNotMet",      # mock: workbench/alert/edit_status_412_precondition_failed.json
    "missing_if_match_status": 428,                     # invented: no source
    "missing_months": None,                             # invented: no source (None = 400 element)
    "filter_extensions": True,                          # invented: ne and description beyond the MCP's list
    "max_filter_length": 1024,                          # MCP FilterApiKeys: "string <= 1024 characters"
    "order_by_fields": list(ORDER_FIELDS),              # MCP enum + the SDK's createdDateTime; name invented
}


def main():
    p = argparse.ArgumentParser(description="A local fake of Vision One (see docs/FAKE-VISIONONE.md).")
    p.add_argument("logfile")
    p.add_argument("--lifetime", type=float, default=600, help="seconds before the server exits (default 600)")
    p.add_argument("--latency-ms", type=float, default=0, help="delay added before every API answer")
    p.add_argument("--propagation-ms", type=float, default=0,
                   help="how long a key created through the API stays unusable (401)")
    a = p.parse_args()
    server = Server(("127.0.0.1", 0), Handler)
    server.logfile = a.logfile
    num = lambda x: int(x) if x == int(x) else x
    server.state = State(dict(DEFAULTS, latency_ms=num(a.latency_ms), propagation_ms=num(a.propagation_ms)))
    print(server.server_address[1], flush=True)
    timer = threading.Timer(a.lifetime, server.shutdown)
    timer.daemon = True
    timer.start()
    server.serve_forever()


if __name__ == "__main__":
    main()
