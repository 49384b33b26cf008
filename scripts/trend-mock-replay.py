#!/usr/bin/env python3
"""Replay Trend's own WireMock mappings of Vision One, with nothing of this project's in between.

    trend-mock-replay.py MAPPINGS_DIR LOGFILE [--lifetime S]

A minimal WireMock-compatible server on 127.0.0.1 (a free port, printed on the first line, flushed),
Python standard library only. It loads every *.json stub mapping under MAPPINGS_DIR (recursively) and
implements the WireMock features that Trend's API-keys mappings use (Tests/Fixtures/tm-v1-api-mockup/,
from github.com/trendmicro/tm-v1-api-mockup at commit e21ef3c):

- request matching: `method` (or "ANY"); `urlPath` (exact path), `urlPathPattern` (regex, full match
  on the path), `url` / `urlPattern` (the same on path + query); `headers` with `matches` (regex, full
  match), `contains`, `equalTo` or `absent`; `bodyPatterns` with `matchesJsonPath` as a string, for the
  JSONPath forms `$[?(@.field)]`, `$[?(@.field == 'x')]` (also `!=`, numbers, true / false / null) and
  `$.field` (also `$.a.b`, `$['a']`, `$[0]`, `$[*]`, `$..field`). WireMock's rule: the expression
  matches when its result is present and not null, and a list or object result is not empty.
- `priority`: lower wins, WireMock's default 5; ties go to the mapping whose file path sorts first.
- response: `status`, `headers` (a value or a list of values), `jsonBody`, `body` or `base64Body`,
  `fixedDelayMilliseconds`, and the `response-template` transformer for `{{request.baseUrl}}`
  (= http://<Host header>), `{{request.url}}`, `{{request.path}}`, `{{request.method}}`.

A mapping using anything else (another matcher, scenarios, the object form of matchesJsonPath, other
template expressions) is refused when loading: exit status 2 and a message naming file and feature,
so that nothing is silently answered wrong. No mapping matches → 404 with a JSON body saying so.
Every request is appended to LOGFILE as one JSON line {method, path (with query), headers, body?}.
The server exits by itself after --lifetime seconds (default 600).
"""
import argparse, base64, json, os, re, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

DEFAULT_PRIORITY = 5  # WireMock's
REQUEST_KEYS = {"method", "url", "urlPath", "urlPattern", "urlPathPattern", "headers", "bodyPatterns"}
RESPONSE_KEYS = {"status", "headers", "jsonBody", "body", "base64Body", "transformers", "fixedDelayMilliseconds"}
MAPPING_KEYS = {"request", "response", "priority", "name", "id", "uuid", "metadata", "persistent"}
HEADER_MATCHERS = {"matches", "contains", "equalTo", "absent"}
TEMPLATE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
TEMPLATE_VARS = {"request.baseUrl", "request.url", "request.path", "request.method"}
MISSING = object()


class Unsupported(Exception):
    pass


# ---------------------------------------------------------------- JSONPath (the forms WireMock stubs use here)

PATH_TOKEN = re.compile(r"""
    \.\.(?P<deep>[A-Za-z_][A-Za-z0-9_]*)            # ..name
  | \.(?P<name>[A-Za-z_][A-Za-z0-9_]*)              # .name
  | \[\s*'(?P<qname>[^']*)'\s*\]                    # ['name']
  | \[\s*(?P<index>-?\d+)\s*\]                      # [0]
  | \[\s*\*\s*\]|\.\*                               # [*]  .*
  | \[\s*\?\s*\((?P<filter>.*?)\)\s*\]              # [?(...)]
""", re.VERBOSE)
FILTER = re.compile(r"""^\s*@(?P<path>(?:\.[A-Za-z_][A-Za-z0-9_]*)+)\s*
    (?:(?P<op>==|!=)\s*(?:'(?P<s1>[^']*)'|"(?P<s2>[^"]*)"|(?P<num>-?\d+(?:\.\d+)?)|(?P<lit>true|false|null)))?\s*$""",
                    re.VERBOSE)


def compile_jsonpath(expr):
    """JSONPath text → a list of steps; raises Unsupported for anything outside the forms above."""
    if not expr.startswith("$"):
        raise Unsupported("JSONPath must start with $: %r" % expr)
    steps, pos = [], 1
    while pos < len(expr):
        m = PATH_TOKEN.match(expr, pos)
        if not m:
            raise Unsupported("JSONPath form not supported: %r (at %r)" % (expr, expr[pos:]))
        pos = m.end()
        if m.group("deep"):
            steps.append(("deep", m.group("deep")))
        elif m.group("name") is not None or m.group("qname") is not None:
            steps.append(("name", m.group("name") if m.group("name") is not None else m.group("qname")))
        elif m.group("index") is not None:
            steps.append(("index", int(m.group("index"))))
        elif m.group("filter") is not None:
            f = FILTER.match(m.group("filter"))
            if not f:
                raise Unsupported("JSONPath filter not supported: %r" % m.group("filter"))
            fields = f.group("path").split(".")[1:]
            if f.group("op") is None:
                steps.append(("filter", fields, None, None))
            else:
                if f.group("s1") is not None or f.group("s2") is not None:
                    want = f.group("s1") if f.group("s1") is not None else f.group("s2")
                elif f.group("num") is not None:
                    want = float(f.group("num"))
                else:
                    want = {"true": True, "false": False, "null": None}[f.group("lit")]
                steps.append(("filter", fields, f.group("op"), want))
        else:
            steps.append(("all",))
    return steps


def _get(node, fields):
    for f in fields:
        if not isinstance(node, dict) or f not in node:
            return MISSING
        node = node[f]
    return node


def _same(a, b):
    if isinstance(b, float):  # a number literal: compare numbers, never a bool
        return isinstance(a, (int, float)) and not isinstance(a, bool) and a == b
    if b is None or isinstance(b, bool):
        return a is b
    return isinstance(a, str) and a == b


def _accept(node, fields, op, want):
    value = _get(node, fields)
    if op is None:
        return value is not MISSING  # [?(@.field)]: the field exists
    if value is MISSING:
        return False
    return _same(value, want) if op == "==" else not _same(value, want)


def _deep(node, name, out):
    if isinstance(node, dict):
        if name in node:
            out.append(node[name])
        for v in node.values():
            _deep(v, name, out)
    elif isinstance(node, list):
        for v in node:
            _deep(v, name, out)


def evaluate(steps, doc):
    """(definite, results): results is the list of values the path reaches."""
    nodes, definite = [doc], True
    for step in steps:
        kind, nxt = step[0], []
        if kind == "name":
            nxt = [n[step[1]] for n in nodes if isinstance(n, dict) and step[1] in n]
        elif kind == "index":
            for n in nodes:
                if isinstance(n, list) and -len(n) <= step[1] < len(n):
                    nxt.append(n[step[1]])
        elif kind == "all":
            definite = False
            for n in nodes:
                nxt.extend(n if isinstance(n, list) else n.values() if isinstance(n, dict) else [])
        elif kind == "deep":
            definite = False
            for n in nodes:
                _deep(n, step[1], nxt)
        else:  # filter: over a list's elements; over an object, the object itself (as Jayway JsonPath does)
            definite = False
            for n in nodes:
                candidates = n if isinstance(n, list) else [n] if isinstance(n, dict) else []
                nxt.extend(c for c in candidates if _accept(c, *step[1:]))
        nodes = nxt
    return definite, nodes


def jsonpath_matches(steps, doc):
    """WireMock's MatchesJsonPathPattern: a present, non-null result; a list / object result non-empty."""
    definite, results = evaluate(steps, doc)
    if not definite:
        return len(results) > 0
    if not results:
        return False
    value = results[0]
    if isinstance(value, (list, dict)):
        return len(value) > 0
    return value is not None


# ---------------------------------------------------------------- mappings


def load_mappings(root):
    mappings = []
    for dirpath, _, files in os.walk(root):
        for name in files:
            if name.endswith(".json"):
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, root)
                try:
                    with open(path, encoding="utf-8") as f:
                        m = json.load(f)
                    mappings.append(compile_mapping(m, rel))
                except (Unsupported, ValueError) as e:
                    raise Unsupported("%s: %s" % (rel, e))
    mappings.sort(key=lambda m: (m["priority"], m["file"]))
    return mappings


def compile_mapping(m, rel):
    if not isinstance(m, dict) or "request" not in m or "response" not in m:
        raise Unsupported("not a single stub mapping (request + response)")
    for keys, allowed, where in ((m, MAPPING_KEYS, "mapping"), (m["request"], REQUEST_KEYS, "request"),
                                 (m["response"], RESPONSE_KEYS, "response")):
        extra = set(keys) - allowed
        if extra:
            raise Unsupported("%s feature(s) not supported: %s" % (where, ", ".join(sorted(extra))))
    req, resp = m["request"], m["response"]
    url_rules = [k for k in ("url", "urlPath", "urlPattern", "urlPathPattern") if k in req]
    if len(url_rules) > 1:
        raise Unsupported("more than one URL rule")
    headers = []
    for name, rule in (req.get("headers") or {}).items():
        if not isinstance(rule, dict) or len(rule) != 1 or set(rule) - HEADER_MATCHERS:
            raise Unsupported("header matcher for %s not supported: %r" % (name, rule))
        (op, arg), = rule.items()
        headers.append((name, op, re.compile(arg, re.DOTALL) if op == "matches" else arg))
    bodies = []
    for pattern in req.get("bodyPatterns") or []:
        if set(pattern) != {"matchesJsonPath"} or not isinstance(pattern["matchesJsonPath"], str):
            raise Unsupported("body pattern not supported: %r" % pattern)
        bodies.append(compile_jsonpath(pattern["matchesJsonPath"]))
    transformers = resp.get("transformers") or []
    if set(transformers) - {"response-template"}:
        raise Unsupported("transformer(s) not supported: %r" % transformers)
    templated = "response-template" in transformers
    if templated:
        text = json.dumps([resp.get("jsonBody"), resp.get("body"), resp.get("headers")])
        unknown = {e for e in TEMPLATE.findall(text) if e not in TEMPLATE_VARS}
        if unknown:
            raise Unsupported("template expression(s) not supported: %s" % ", ".join(sorted(unknown)))
    url_rule = None
    if url_rules:
        k = url_rules[0]
        url_rule = (k, re.compile(req[k], re.DOTALL) if k.endswith("Pattern") else req[k])
    return {"file": rel, "priority": m.get("priority", DEFAULT_PRIORITY), "method": req.get("method", "ANY"),
            "url": url_rule, "headers": headers, "bodies": bodies, "response": resp, "templated": templated}


def matches(mapping, method, path, full_url, headers, body_text):
    if mapping["method"] not in ("ANY", method):
        return False
    if mapping["url"]:
        kind, rule = mapping["url"]
        target = path if kind.startswith("urlPath") else full_url
        if kind.endswith("Pattern"):
            if not rule.fullmatch(target):
                return False
        elif target != rule:
            return False
    for name, op, arg in mapping["headers"]:
        value = headers.get(name)
        if op == "absent":
            if (value is None) != bool(arg):
                return False
            continue
        if value is None:
            return False
        if op == "equalTo" and value != arg:
            return False
        if op == "contains" and arg not in value:
            return False
        if op == "matches" and not arg.fullmatch(value):
            return False
    if mapping["bodies"]:
        try:
            doc = json.loads(body_text)
        except ValueError:
            return False
        if not all(jsonpath_matches(steps, doc) for steps in mapping["bodies"]):
            return False
    return True


def render(value, variables):
    """Fill {{request.…}} into every string inside value (JSON-safe: strings are replaced, not text)."""
    if isinstance(value, str):
        return TEMPLATE.sub(lambda m: variables[m.group(1)], value)
    if isinstance(value, list):
        return [render(v, variables) for v in value]
    if isinstance(value, dict):
        return {k: render(v, variables) for k, v in value.items()}
    return value


# ---------------------------------------------------------------- HTTP


class Server(ThreadingHTTPServer):
    daemon_threads = True


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

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

    def handle_one(self):
        raw = self.read_body()
        method, full_url = self.command, self.path
        path = urlsplit(full_url).path
        entry = {"method": method, "path": full_url, "headers": dict(self.headers.items())}
        text = raw.decode("utf-8", "replace")
        if raw:
            try:
                entry["body"] = json.loads(raw)
            except ValueError:
                entry["body"] = text
        with self.server.lock:
            with open(self.server.logfile, "a") as f:
                f.write(json.dumps(entry) + "\n")
        mapping = next((m for m in self.server.mappings
                        if matches(m, method, path, full_url, self.headers, text)), None)
        if mapping is None:
            return self.answer(404, [("Content-Type", "application/json")], json.dumps(
                {"error": {"code": "NotFound", "message": "No stub mapping matched %s %s (trend-mock-replay)"
                           % (method, full_url)}}).encode())
        resp = mapping["response"]
        headers, body = [], b""
        for name, value in (resp.get("headers") or {}).items():
            for v in value if isinstance(value, list) else [value]:
                headers.append((name, str(v)))
        if "jsonBody" in resp:
            body_value, is_json = resp["jsonBody"], True
        elif "body" in resp:
            body_value, is_json = resp["body"], False
        else:
            body_value, is_json = None, False
        if mapping["templated"]:
            host = self.headers.get("Host") or "127.0.0.1:%d" % self.server.server_address[1]
            variables = {"request.baseUrl": "http://" + host, "request.url": full_url, "request.path": path,
                         "request.method": method}
            headers = [(n, render(v, variables)) for n, v in headers]
            body_value = render(body_value, variables)
        if is_json:
            body = json.dumps(body_value).encode()
        elif body_value is not None:
            body = body_value.encode()
        elif "base64Body" in resp:
            body = base64.b64decode(resp["base64Body"])
        if resp.get("fixedDelayMilliseconds"):
            time.sleep(resp["fixedDelayMilliseconds"] / 1000.0)
        self.answer(resp.get("status", 200), headers, body)

    def answer(self, status, headers, body):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = handle_one


def main():
    p = argparse.ArgumentParser(description="Replay WireMock stub mappings (Trend's tm-v1-api-mockup) on 127.0.0.1.")
    p.add_argument("mappings_dir")
    p.add_argument("logfile")
    p.add_argument("--lifetime", type=float, default=600, help="seconds before the server exits (default 600)")
    a = p.parse_args()
    try:
        mappings = load_mappings(a.mappings_dir)
    except Unsupported as e:
        print("trend-mock-replay: unsupported mapping: %s" % e, file=sys.stderr)
        sys.exit(2)
    if not mappings:
        print("trend-mock-replay: no *.json mappings under %s" % a.mappings_dir, file=sys.stderr)
        sys.exit(2)
    server = Server(("127.0.0.1", 0), Handler)
    server.mappings, server.logfile, server.lock = mappings, a.logfile, threading.Lock()
    print(server.server_address[1], flush=True)
    timer = threading.Timer(a.lifetime, server.shutdown)
    timer.daemon = True
    timer.start()
    server.serve_forever()


if __name__ == "__main__":
    main()
