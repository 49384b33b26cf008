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

Every request outside /_fake/ is appended to LOGFILE as one JSON line (method, path, headers, and
body when there is one). It exits by itself after --lifetime seconds (default 600).
"""
import argparse, base64, calendar, datetime, hashlib, json, math, re, secrets, sys, threading, time, traceback, uuid
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
UPDATABLE = ("name", "role", "status", "description")
STATUSES = ("enabled", "disabled")
FILTER_FIELDS = {"id": "id", "name": "name", "status": "status", "role": "role", "description": "description"}
ORDER_FIELDS = ("createdDateTime", "name", "expiredDateTime", "lastUsedDateTime")
API = "/v3.0/iam/apiKeys"


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
    __slots__ = ("id", "name", "role", "status", "description", "expires", "last_used", "created", "seq",
                 "value_sha256", "etag", "deleted", "usable_after", "source")

    def public(self, cfg):
        return {"id": self.id, "name": self.name, "status": self.status, "role": self.role,
                "expiredDateTime": fmt(self.expires) if self.expires else cfg["never_expires"],
                "lastUsedDateTime": fmt(self.last_used) if self.last_used else cfg["never_used"],
                "description": self.description}


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
        self.cfg = dict(self.defaults)
        self.offset = 0.0  # seconds added to the real clock ("now" override)

    # -- time --
    def now(self):
        t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=self.offset)
        return t.replace(microsecond=0)

    # -- keys --
    def new_etag(self):
        return secrets.token_hex(16)

    def make_key(self, name, role, status="enabled", description=None, expires=None, last_used=None,
                 created=None, value=None, usable_after=0.0, source="api"):
        now = self.now()
        k = Key()
        k.id = str(uuid.uuid4())
        k.name, k.role, k.status, k.description = name, role, status, description
        k.expires, k.last_used = expires, last_used
        k.created = created or now
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

    def state_json(self):
        out = []
        for k in sorted(self.keys.values(), key=lambda k: k.seq):
            d = k.public(self.cfg)
            d.update({"deleted": k.deleted, "createdDateTime": fmt(k.created), "etag": '"%s"' % k.etag,
                      "value_sha256": k.value_sha256, "source": k.source,
                      "propagated": time.monotonic() >= k.usable_after})
            out.append(d)
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


def parse_filter(text):
    """`field eq 'v'` / `field ne 'v'`, joined by `and` / `or` (and binds tighter), parentheses, `not`.
    Returns a predicate over public key dicts; raises ValueError."""
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
        if kind != "word" or val not in FILTER_FIELDS:
            raise ValueError("unsupported field %r in TMV1-Filter" % val)
        field = FILTER_FIELDS[val]
        i[0] += 1
        if not peek_word("eq", "ne"):
            raise ValueError("expected eq or ne after %s" % val)
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
        entry = {"method": method, "path": self.path, "headers": dict(self.headers.items())}
        if raw:
            try:
                entry["body"] = json.loads(raw)
            except ValueError:
                entry["body"] = raw.decode("utf-8", "replace")
        with state.lock:
            with open(self.server.logfile, "a") as f:
                f.write(json.dumps(entry) + "\n")
            endpoint = self.endpoint(method, path)
            state.counters[endpoint] = state.counters.get(endpoint, 0) + 1
            fault = state.take_fault(method, path)
            latency = state.cfg["latency_ms"]
        if latency:
            time.sleep(latency / 1000.0)
        if fault:
            kind = fault["kind"]
            if kind == "drop":
                self.close_connection = True
                return
            if kind in ("status", "429"):
                status = 429 if kind == "429" else fault["status"]
                headers = list(fault["headers"].items())
                if kind == "429":
                    headers.append(("Retry-After", str(fault["retry_after"])))
                return self.send(status, error_body(status, fault["code"], fault["message"]), headers)
        try:
            answer = self.route(method, path, raw)
        except ApiError as e:
            answer = (e.status, e.body, e.headers)
        except Exception:
            traceback.print_exc()
            answer = (500, error_body(500, "InternalServerError", "Internal server error."), [])
        if fault and fault["kind"] == "drop-after":
            self.close_connection = True
            return
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
                    k.last_used = state.now()
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
                k.last_used = state.now()
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
        with state.lock:
            for item in items:
                try:
                    out.append(self.create_one(state, item))
                except ApiError as e:
                    out.append({"status": e.status, "body": e.body})
        return 207, out

    @staticmethod
    def create_one(state, item):
        if not isinstance(item, dict):
            raise ApiError(400, "BadRequest", "Each element must be a JSON object.")
        unknown = set(item) - {"name", "role", "monthsToExpiration", "description", "status"}
        if unknown:
            raise ApiError(400, "BadRequest", "Unknown field(s): %s." % ", ".join(sorted(unknown)))
        name, role, months = item.get("name"), item.get("role"), item.get("monthsToExpiration")
        status, description = item.get("status", "enabled"), item.get("description")
        if not isinstance(name, str) or not name.strip() or len(name) > 255:
            raise ApiError(400, "BadRequest", "name is required (1-255 characters).")
        if not isinstance(role, str) or not role.strip():
            raise ApiError(400, "BadRequest", "role is required.")
        if isinstance(months, bool) or months not in MONTHS:
            raise ApiError(400, "BadRequest", "monthsToExpiration must be one of 0, 1, 3, 6, 12.")
        if status not in STATUSES:
            raise ApiError(400, "BadRequest", "status must be enabled or disabled.")
        if description is not None and (not isinstance(description, str) or len(description) > 1024):
            raise ApiError(400, "BadRequest", "description must be a string (at most 1024 characters).")
        if name in state.by_name:
            raise ApiError(400, "BadRequest", "An API key named '%s' already exists." % name)
        now = state.now()
        expires = add_months(now, months) if months else None
        k, value = state.make_key(name, role, status, description, expires,
                                  usable_after=time.monotonic() + state.cfg["propagation_ms"] / 1000.0)
        return {"status": 201, "body": {"id": k.id, "value": value, "expiredDateTime": k.public(state.cfg)["expiredDateTime"]}}

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
        field, desc = parts[0], len(parts) == 2 and parts[1].lower() == "desc"
        try:
            pred = parse_filter(filt) if filt and filt.strip() else (lambda d: True)
        except ValueError as e:
            raise ApiError(400, "BadRequest", str(e))

        def sort_key(k):
            if field == "createdDateTime":
                v = k.created.timestamp()
            elif field == "name":
                v = k.name
            elif field == "expiredDateTime":
                v = k.expires.timestamp() if k.expires else math.inf
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
        body = {"totalCount": total, "count": len(page), "items": [d for _, d in page]}
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
            return 200, k.public(state.cfg), [("ETag", '"%s"' % k.etag)]

    def update(self, key_id, raw):
        state = self.server.state
        body = self.json_body(raw)
        with state.lock:
            k = state.live(key_id)
            if k is None:
                raise ApiError(404, "NotFound", "The API key does not exist.")
            match = (self.headers.get("If-Match") or "").strip()
            if not match:
                raise ApiError(428, "PreconditionRequired", "The If-Match header is required.")
            if match.startswith("W/"):
                match = match[2:]
            if match.strip('"') != k.etag:
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
                    out.append({"status": 400, "body": error_body(400, "BadRequest", "Each element needs an id.")})
                    continue
                k = state.live(key_id)
                if k is None:
                    out.append({"status": 404, "body": error_body(404, "NotFound", "The API key does not exist.")})
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
        if not isinstance(body, dict):
            raise BadControl("config body must be an object")
        unknown = set(body) - {"latency_ms", "propagation_ms", "permitted_roles", "now", "allowed_top",
                               "never_expires", "never_used"}
        if unknown:
            raise BadControl("unknown config key(s): %s" % ", ".join(sorted(unknown)))
        for name in ("latency_ms", "propagation_ms"):
            if name in body:
                if not isinstance(body[name], (int, float)) or body[name] < 0:
                    raise BadControl("%s must be a number >= 0" % name)
                state.cfg[name] = body[name]
        if "permitted_roles" in body:
            if not isinstance(body["permitted_roles"], list) or not all(isinstance(r, str) for r in body["permitted_roles"]):
                raise BadControl("permitted_roles must be a list of strings")
            state.cfg["permitted_roles"] = body["permitted_roles"]
        if "allowed_top" in body:
            v = body["allowed_top"]
            if v is not None and (not isinstance(v, list) or not all(isinstance(t, int) and t > 0 for t in v)):
                raise BadControl("allowed_top must be a list of positive integers or null")
            state.cfg["allowed_top"] = v
        for name in ("never_expires", "never_used"):
            if name in body:
                state.cfg[name] = body[name]
        if "now" in body:
            if body["now"] is None:
                state.offset = 0.0
            else:
                try:
                    target = parse_time(body["now"])
                except ValueError:
                    raise BadControl("now must be an ISO 8601 date-time or null")
                state.offset = (target - datetime.datetime.now(datetime.timezone.utc)).total_seconds()

    @staticmethod
    def fault_spec(spec):
        if not isinstance(spec, dict):
            raise BadControl("a fault must be an object")
        kind = str(spec.get("kind", "status"))
        if kind not in ("status", "429", "drop", "drop-after"):
            raise BadControl("fault kind must be status, 429, drop or drop-after")
        status = spec.get("status", 429 if kind == "429" else 500)
        if not isinstance(status, int) or not 100 <= status <= 599:
            raise BadControl("fault status must be an HTTP status")
        count, nth = spec.get("count", 1), spec.get("nth", 1)
        if not isinstance(count, int) or count == 0 or not isinstance(nth, int) or nth < 1:
            raise BadControl("count must be a non-zero integer (-1 = always), nth an integer >= 1")
        method = spec.get("method")
        return {"kind": kind, "method": method.upper() if method else None, "path": spec.get("path", "/"),
                "status": status, "code": spec.get("code"), "message": spec.get("message"),
                "retry_after": spec.get("retry_after", 1), "headers": dict(spec.get("headers") or {}),
                "count": count, "nth": nth, "seen": 0, "fired": 0}

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
            out["expires"] = add_months(state.now(), m) if m else None
        return out

    def seed(self, state, body):
        if not isinstance(body, dict) or "name" not in body:
            raise BadControl("a seeded key needs at least a name")
        f = self.key_fields(state, body)
        value = body.get("value")
        if value is not None and (not isinstance(value, str) or not value or state.lookup(value)):
            raise BadControl("value must be a non-empty string not already used by a key")
        propagated = body.get("propagated", True)
        now = state.now()
        k, value = state.make_key(f["name"], f.get("role", "Master Administrator"), f.get("status", "enabled"),
                                  f.get("description"), f.get("expires", add_months(now, 12)), f.get("last_used"),
                                  f.get("created"), value,
                                  0.0 if propagated else time.monotonic() + state.cfg["propagation_ms"] / 1000.0, "seed")
        out = k.public(state.cfg)
        out.update({"value": value, "createdDateTime": fmt(k.created), "etag": '"%s"' % k.etag})
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
        now = state.now()
        out = []
        for n in names:
            k, value = state.make_key(n, template.get("role", "Master Administrator"), template.get("status", "enabled"),
                                      template.get("description"), template.get("expires", add_months(now, 12)),
                                      template.get("last_used"), template.get("created"), None, 0.0, "seed")
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
        out = k.public(state.cfg)
        out.update({"deleted": k.deleted, "createdDateTime": fmt(k.created), "etag": '"%s"' % k.etag})
        return out


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
    server.state = State({"latency_ms": num(a.latency_ms), "propagation_ms": num(a.propagation_ms),
                          "permitted_roles": ["Master Administrator"], "allowed_top": [50, 100, 200],
                          "never_expires": "9999-12-31T23:59:59Z", "never_used": "0001-01-01T00:00:00Z"})
    print(server.server_address[1], flush=True)
    timer = threading.Timer(a.lifetime, server.shutdown)
    timer.daemon = True
    timer.start()
    server.serve_forever()


if __name__ == "__main__":
    main()
