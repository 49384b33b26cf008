#!/usr/bin/env python3
"""Independent reader of the v1vault format, written from SECURITY.md alone.

Uses libsodium through ctypes and Python's sqlite3; shares no code with v1vault. It exists to
prove the format specification is complete: the test suite runs it against vaults written by
the `vault` binary.

    reference-decrypt.py VAULT PASSPHRASE_FILE

prints one JSON object: {"tokens": {name: {version: token}}, "audit": "intact" | "<problem>",
"sealed": N, "pending": N, "intents": {"authentic": N, "failed": N}, "identity": {"recipient": "age1…",
"signing_key": "v1vsig1…"} | null, "sharing": {"recipients": N, "follows": N, "received": N},
"sharing_state": {"state_seq": N} | "unsealed"}. Exit 0 on success, 1 on any rejection (message on
stderr). A renewal intent whose MAC fails is counted, not a rejection: v1vault leaves such an intent
untouched and never acts on it. A schema-6 row that fails (the identity, a recipient, a follow, a
received mark), or a sharing state (schema 7) that fails or is older than the audit log says, is a
rejection, as in v1vault.
"""
import ctypes, ctypes.util, hashlib, hmac, json, re, sqlite3, struct, sys, unicodedata

def fail(msg):
    print("reject: " + msg, file=sys.stderr)
    sys.exit(1)

lib = ctypes.util.find_library("sodium") or "libsodium.so.23"
na = ctypes.CDLL(lib)
if na.sodium_init() < 0:
    fail("sodium_init failed")
ALG_ARGON2ID13 = 2
MAC = 16
# SECURITY.md, "The schema is part of the format": SHA-256 of schema 7's sqlite_master rows.
SCHEMA7_DIGEST = "3227637ba9ffcce385ca5bbc1a452bdfc1997030db778985d193393bdf2559c0"
# In the details of every sealed, successful audit row whose command changed the sharing rows.
SHARING_MARKER = '"sharing":"sealed"'

def pwhash(passwd, salt, ops, mem):
    out = ctypes.create_string_buffer(32)
    rc = na.crypto_pwhash(out, ctypes.c_ulonglong(32), passwd, ctypes.c_ulonglong(len(passwd)), salt,
                          ctypes.c_ulonglong(ops), ctypes.c_size_t(mem), ctypes.c_int(ALG_ARGON2ID13))
    if rc != 0:
        fail("crypto_pwhash failed")
    return out.raw

def secretbox_open(c, n, k):
    if len(c) < MAC:
        return None
    m = ctypes.create_string_buffer(len(c) - MAC)
    rc = na.crypto_secretbox_open_easy(m, c, ctypes.c_ulonglong(len(c)), n, k)
    return m.raw if rc == 0 else None

def kdf_derive(master, subkey_id, ctx):
    # SECURITY.md states crypto_kdf_derive_from_key as keyed BLAKE2b-256 with salt and
    # personalisation, for bindings (like PyNaCl) that lack it: computed that way here.
    out = ctypes.create_string_buffer(32)
    salt = struct.pack("<Q", subkey_id) + b"\x00" * 8
    personal = ctx + b"\x00" * 8
    rc = na.crypto_generichash_blake2b_salt_personal(out, ctypes.c_size_t(32), None, ctypes.c_ulonglong(0),
                                                     master, ctypes.c_size_t(32), salt, personal)
    if rc != 0:
        fail("crypto_generichash_blake2b_salt_personal failed")
    return out.raw

def generichash(key, data):
    out = ctypes.create_string_buffer(32)
    rc = na.crypto_generichash(out, ctypes.c_size_t(32), data, ctypes.c_ulonglong(len(data)), key, ctypes.c_size_t(len(key)))
    if rc != 0:
        fail("crypto_generichash failed")
    return out.raw

def scalarmult_base(secret):
    out = ctypes.create_string_buffer(32)
    if na.crypto_scalarmult_base(out, secret) != 0:
        fail("crypto_scalarmult_base failed")
    return out.raw

def sign_seed_public(seed):
    pk, sk = ctypes.create_string_buffer(32), ctypes.create_string_buffer(64)
    if na.crypto_sign_seed_keypair(pk, sk, seed) != 0:
        fail("crypto_sign_seed_keypair failed")
    return pk.raw

BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
def bech32(hrp, data):
    # BIP 173: 8-bit data regrouped into 5-bit words, then the 6-word BCH checksum.
    words, acc, bits = [], 0, 0
    for b in data:
        acc, bits = (acc << 8) | b, bits + 8
        while bits >= 5:
            bits -= 5
            words.append((acc >> bits) & 31)
    if bits:
        words.append((acc << (5 - bits)) & 31)
    def polymod(values):
        chk = 1
        for v in values:
            top, chk = chk >> 25, ((chk & 0x1FFFFFF) << 5) ^ v
            for i, g in enumerate((0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)):
                chk ^= g if (top >> i) & 1 else 0
        return chk
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    pm = polymod(expanded + words + [0] * 6) ^ 1
    return hrp + "1" + "".join(BECH32[w] for w in words + [(pm >> 5 * (5 - i)) & 31 for i in range(6)])

def S(x):
    b = x.encode("utf-8")
    return struct.pack(">I", len(b)) + b

def u64(v):
    return struct.pack(">Q", v & 0xFFFFFFFFFFFFFFFF)

def encode(r):
    out = u64(r["seq"]) + S(r["at"]) + S(r["action"]) + S(r["tokens"]) + S(r["outcome"])
    out += b"\x00" if r["reason"] is None else b"\x01" + S(r["reason"])
    return out + S(r["details"]) + S(r["os_user"]) + u64(r["uid"]) + S(r["host"]) + u64(r["pid"])

def console_name_ok(x):
    # 1-256 scalars, none of category Cc, nor of category Cf in U+202A-U+2069.
    return isinstance(x, str) and 1 <= len(x) <= 256 and not any(
        unicodedata.category(ch) == "Cc" or (unicodedata.category(ch) == "Cf" and 0x202A <= ord(ch) <= 0x2069) for ch in x)

LABEL = re.compile(r"[A-Za-z0-9-]{1,63}")
SEGMENT = re.compile(r"[A-Za-z0-9._~-]+")
def base_url_canonical(u):
    # A base URL "v1vault would store": one that `vault add --base-url` accepts unchanged
    # (SECURITY.md, "Renewal intents").
    if not isinstance(u, str) or len(u) > 2048 or not all(0x21 <= ord(c) <= 0x7E for c in u) or any(c in u for c in "@?#"):
        return False
    scheme, sep, rest = u.partition("://")
    if not sep or scheme not in ("https", "http"):
        return False
    authority, path = rest.split("/", 1)[0], rest[len(rest.split("/", 1)[0]):]
    host, port = authority, None
    if authority.startswith("["):
        host, _, after = authority.partition("]")
        host += "]"
        if host != "[::1]" or (after and not after.startswith(":")):
            return False
        port = after[1:] if after else None
    elif ":" in authority:
        host, port = authority.split(":", 1)
    if port is not None and not (re.fullmatch(r"[1-9][0-9]{0,4}", port) and int(port) <= 65535):
        return False
    if not host.startswith("["):
        labels = host.split(".")
        if not (1 <= len(host) <= 253 and host == host.lower()
                and all(LABEL.fullmatch(l) and l[0] != "-" and l[-1] != "-" for l in labels)):
            return False
    if path.endswith("/") or (path and not all(SEGMENT.fullmatch(seg) and seg not in (".", "..") for seg in path[1:].split("/"))):
        return False
    parts = host.split(".")
    loopback = host == "[::1]" or (len(parts) == 4 and parts[0] == "127" and all(re.fullmatch(r"0|[1-9][0-9]{0,2}", x) and int(x) <= 255 for x in parts))
    return scheme == "https" or loopback

def main():
    if len(sys.argv) != 3:
        fail("usage: reference-decrypt.py VAULT PASSPHRASE_FILE")
    passphrase = open(sys.argv[2], "rb").read()
    if passphrase.endswith(b"\n"):
        passphrase = passphrase[:-1]
    db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
    db.row_factory = sqlite3.Row
    known = ["0001_initial", "0002_token_metadata_mac", "0003_token_state_mac", "0004_audit_key_epochs", "0005_console_links", "0006_sharing",
             "0007_sharing_state"]
    # The schema, before any table is queried: sqlite_master's rows (rootpage aside), sorted by
    # type then name, must hash to schema 7's digest ("The schema is part of the format").
    schema = db.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall()
    if any(not isinstance(x, str) for r in schema for x in r[:3]) or any(r[3] is not None and not isinstance(r[3], str) for r in schema):
        fail("schema holds a value that is not text")
    schema = sorted(schema, key=lambda r: (r[0].encode("utf-8"), r[1].encode("utf-8")))
    digest = hashlib.sha256(b"".join(S(r[0]) + S(r[1]) + S(r[2]) + (b"\x00" if r[3] is None else b"\x01" + S(r[3])) for r in schema)).hexdigest()
    if digest != SCHEMA7_DIGEST:
        # Only a plain grdb_migrations (as GRDB creates it) is read, to say why.
        grdb = [tuple(r) for r in schema if r[2] == "grdb_migrations"]
        if grdb != [("index", "sqlite_autoindex_grdb_migrations_1", "grdb_migrations", None),
                    ("table", "grdb_migrations", "grdb_migrations", "CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY)")]:
            fail("schema differs from what v1vault creates (grdb_migrations)")
        ids = sorted(r[0] for r in db.execute("SELECT identifier FROM grdb_migrations"))
        if not set(ids) <= set(known):
            fail("unknown migrations %s" % sorted(set(ids) - set(known)))
        if ids and ids != known and ids == known[:len(ids)]:
            fail("vault needs an upgrade (applied: %s); open it with a write command first" % ids)
        fail("schema differs from what v1vault creates")
    ids = sorted(r[0] for r in db.execute("SELECT identifier FROM grdb_migrations"))
    if ids != known:
        fail("applied migrations %s are not schema 7's" % ids)
    headers = db.execute("SELECT * FROM vault_header").fetchall()
    if len(headers) != 1:
        fail("need exactly one header row")
    h = headers[0]
    if h["format_version"] != 1 or h["kdf_algorithm"] != "argon2id13":
        fail("unknown format or KDF")
    ops, mem = h["kdf_ops"], h["kdf_mem"]
    if not (1 <= ops <= 256 and 8192 <= mem <= 4 << 30 and mem % 1024 == 0 and ops * mem <= 64 * (256 << 20)):
        fail("KDF parameters out of bounds")
    kek = pwhash(passphrase, h["kdf_salt"], ops, mem)
    w = secretbox_open(h["wrapped_key"], h["wrap_nonce"], kek)
    if w is None or len(w) != 48 or not hmac.compare_digest(w[:16], h["vault_id"]):
        fail("wrong passphrase")
    master = w[16:]
    token_key = kdf_derive(master, 1, b"V1VTOKEN")
    audit_key = kdf_derive(master, 1, b"V1VAUDIT")
    meta_key = kdf_derive(master, 1, b"V1VMETA_")
    archive_key = kdf_derive(master, 1, b"V1VAKEYS")
    share_key = kdf_derive(master, 1, b"V1VSHARE")
    epochs, nxt = [], 1
    for e in db.execute("SELECT * FROM audit_key_epochs ORDER BY first_seq"):
        p = secretbox_open(e["sealed_key"], e["nonce"], archive_key)
        if e["first_seq"] != nxt or p is None or len(p) != 48 or p[:16] != struct.pack(">QQ", e["first_seq"], e["last_seq"]):
            fail("audit key epoch %d failed authentication" % e["first_seq"])
        epochs.append((e["first_seq"], e["last_seq"], p[16:]))
        nxt = e["last_seq"] + 1
    def audit_key_for(seq):
        return next((k for a, b, k in epochs if a <= seq <= b), audit_key)

    def opt(x):
        return b"\x00" if x is None else b"\x01" + S(x)
    def columns(table):
        return {r[1] for r in db.execute("SELECT * FROM pragma_table_info(?)", (table,))}
    def is_int(x):
        return isinstance(x, int) and not isinstance(x, bool)
    token_columns, version_columns = columns("tokens"), columns("token_versions")
    for t in db.execute("SELECT * FROM tokens"):
        m = h["vault_id"] + u64(t["id"]) + S(t["name"]) + opt(t["region"]) + S(t["base_url"]) + opt(t["role"]) \
            + opt(t["description"]) + S(t["permissions"]) + u64(t["created_at"])
        domain = b"v1vault-meta-v1"
        # Schema 5: v2 when the stored columns say so (a warning window, or the manager mark);
        # then the input ends with W(warn_days) || u8(manager).
        warn = t["warn_days"] if "warn_days" in token_columns else None
        manager = t["manager"] if "manager" in token_columns else 0
        if not (warn is None or (is_int(warn) and 0 <= warn <= 3650)) or not (is_int(manager) and manager in (0, 1)):
            fail("token %s has a warn_days or manager value of the wrong type or range" % t["name"])
        if warn is not None or manager == 1:
            domain = b"v1vault-meta-v2"
            m += (b"\x00" if warn is None else b"\x01" + struct.pack(">I", warn)) + bytes([manager])
        if t["meta_mac"] is None or not hmac.compare_digest(generichash(meta_key, domain + m), t["meta_mac"]):
            fail("token %s metadata failed authentication" % t["name"])

    changing = ("add", "rotate", "rollback", "remove", "import", "seal-state", "edit", "rename", "renew", "sync")
    def X(v):
        return b"\x00" if v is None else b"\x01" + u64(v)
    for t in db.execute("SELECT * FROM tokens"):
        console = ", console_id, console_name, console_state" if "console_state" in version_columns else ""
        vs = db.execute("SELECT version, created_at, expires_at, retired_at, nonce%s FROM token_versions WHERE token_id = ? ORDER BY version"
                        % console, (t["id"],)).fetchall()
        links = [(v["console_id"], v["console_name"], v["console_state"]) if console else (None, None, None) for v in vs]
        for cid, cname, cstate in links:
            if any(x is not None and not isinstance(x, str) for x in (cid, cname, cstate)) \
                    or cstate not in (None, "enabled", "disabled", "deleted") \
                    or (cid is not None and not re.fullmatch(r"[A-Za-z0-9._:-]{1,128}", cid)) \
                    or (cname is not None and not console_name_ok(cname)):
                fail("token %s has a console column of the wrong type or value" % t["name"])
        # Schema 5: v2 when any kept version has a console column set; each entry then ends
        # with O(console_id) || O(console_name) || O(console_state).
        linked = any(x is not None for link in links for x in link)
        # v2 also for a manager key or a token with its own warning window; the input then ends
        # with the token's meta_mac (its metadata as fresh as its state).
        warn = t["warn_days"] if "warn_days" in token_columns else None
        manager = t["manager"] if "manager" in token_columns else 0
        linked = linked or warn is not None or manager == 1
        nums = [v["version"] for v in vs]
        if any(not (1 <= n <= 0xFFFFFFFF) for n in nums) or nums != sorted(set(nums)):
            fail("token %s has a version number out of range" % t["name"])
        current = [v["version"] for v in vs if v["retired_at"] is None]
        if len(current) != 1:
            fail("token %s has %d current versions" % (t["name"], len(current)))
        if t["state_mac"] is None or t["state_seq"] is None:
            fail("token %s has no state MAC" % t["name"])
        m = h["vault_id"] + u64(t["id"]) + u64(t["state_seq"]) + struct.pack(">II", current[0], len(vs))
        for v, link in zip(vs, links):
            m += struct.pack(">I", v["version"]) + u64(v["created_at"]) + X(v["expires_at"]) + X(v["retired_at"]) + v["nonce"]
            if linked:
                m += b"".join(opt(x) for x in link)
        domain = b"v1vault-state-v2" if linked else b"v1vault-state-v1"
        if linked:
            m += t["meta_mac"] if t["meta_mac"] is not None else bytes(32)
        if not hmac.compare_digest(generichash(meta_key, domain + m), t["state_mac"]):
            fail("token %s version state failed authentication" % t["name"])
        # The walk after state_seq starts from that row's stored MAC: it must exist and be sealed.
        start = db.execute("SELECT mac FROM audit_log NOT INDEXED WHERE seq = ?", (t["state_seq"],)).fetchone()
        if start is None or not isinstance(start["mac"], bytes):
            fail("token %s state names audit row %d, which is missing or not sealed" % (t["name"], t["state_seq"]))
        odd = db.execute("SELECT seq FROM audit_log WHERE seq > ? AND (typeof(action) != 'text' OR typeof(outcome) != 'text' "
                         "OR typeof(tokens) != 'text')", (t["state_seq"],)).fetchone()
        if odd:
            fail("audit row %d holds a value of the wrong type" % odd[0])
        later = [r["seq"] for r in db.execute("SELECT seq, tokens FROM audit_log WHERE mac IS NOT NULL AND outcome = 'ok' AND seq > ? "
                                              "AND action IN (%s)" % ",".join("?" * len(changing)), (t["state_seq"],) + changing)
                 if any(s.get("name") == t["name"] for s in json.loads(r["tokens"]))]
        if later:
            fail("token %s version state is older than audit row %d" % (t["name"], max(later)))

    tokens = {}
    for r in db.execute("SELECT t.name, v.* FROM token_versions v JOIN tokens t ON t.id = v.token_id ORDER BY t.name, v.version"):
        p = secretbox_open(r["ciphertext"], r["nonce"], token_key)
        prefix = h["vault_id"] + struct.pack(">QI", r["token_id"], r["version"])
        if p is None or len(p) <= 28 or not hmac.compare_digest(p[:28], prefix):
            fail("token %s version %d failed authentication" % (r["name"], r["version"]))
        if not (1 <= len(p) - 28 <= 16384) or any(b < 0x21 or b > 0x7E for b in p[28:]):
            fail("token %s version %d is not a well-formed token" % (r["name"], r["version"]))
        tokens.setdefault(r["name"], {})[str(r["version"])] = p[28:].decode("ascii")

    prev, last, sealed, pending, first_pending, verdict = b"\x00" * 32, 0, 0, 0, None, "intact"
    for r in db.execute("SELECT * FROM audit_log ORDER BY seq"):
        if r["mac"] is None:
            pending += 1
            first_pending = first_pending or r["seq"]
            last = r["seq"]
            continue
        if first_pending is not None:
            verdict = "unsealed row %d inside the chain" % first_pending; break
        if r["seq"] != last + 1:
            verdict = "rows missing between %d and %d" % (last, r["seq"]); break
        m = generichash(audit_key_for(r["seq"]), b"v1vault-audit-v1" + prev + encode(r))
        if not hmac.compare_digest(m, r["mac"]):
            verdict = "row %d does not verify" % r["seq"]; break
        prev, last, sealed = m, r["seq"], sealed + 1
    # Renewal intents (schema 5): counted; one whose MAC fails must never be acted upon.
    intents = {"authentic": 0, "failed": 0}
    if "renewal_intents" in {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}:
        for i in db.execute("SELECT id, token_id, planned_name, base_url, created_at, mac FROM renewal_intents ORDER BY id"):
            # Never acted upon unless its MAC verifies, its planned name is a valid console name
            # (any, not only v1vault's <stem>-v1v<YYYYMMDD>-<8 hex>) and its base URL canonical.
            ok = all(is_int(i[c]) for c in ("id", "token_id", "created_at")) and all(isinstance(i[c], str) for c in ("planned_name", "base_url")) \
                and console_name_ok(i["planned_name"]) and base_url_canonical(i["base_url"]) \
                and isinstance(i["mac"], bytes) and hmac.compare_digest(generichash(meta_key, b"v1vault-intent-v1" + h["vault_id"] + u64(i["id"])
                    + u64(i["token_id"]) + S(i["planned_name"]) + S(i["base_url"]) + u64(i["created_at"])), i["mac"])
            intents["authentic" if ok else "failed"] += 1
    identity, sharing, state = read_sharing(db, h["vault_id"], share_key, meta_key,
                                            lambda seq, prev, r: generichash(audit_key_for(seq), b"v1vault-audit-v1" + prev + encode(r)))
    print(json.dumps({"tokens": tokens, "audit": verdict, "sealed": sealed, "pending": pending, "intents": intents,
                      "identity": identity, "sharing": sharing, "sharing_state": state}, sort_keys=True))

def read_sharing(db, vault_id, share_key, meta_key, audit_mac):
    """Schema 6 ("Sharing"): the identity opened and checked against its public keys, and every
    recipient, follow and received mark verified under its MAC; then schema 7 ("Sharing state
    MAC"): the state MAC over exactly those rows, and its freshness against the audit log. Any
    failure refuses the vault."""
    def blob(x, n):
        return isinstance(x, bytes) and len(x) == n
    def integer(x):
        return isinstance(x, int) and not isinstance(x, bool)
    identity = None
    rows = db.execute("SELECT id, age_public, signing_public, nonce, sealed, created_at FROM vault_identity").fetchall()
    if len(rows) > 1:
        fail("more than one vault_identity row")
    for r in rows:
        ok = r["id"] == 1 and blob(r["age_public"], 32) and blob(r["signing_public"], 32) and blob(r["nonce"], 24) \
            and blob(r["sealed"], 96) and integer(r["created_at"])
        m = secretbox_open(r["sealed"], r["nonce"], share_key) if ok else None
        if m is None or len(m) != 80 or not hmac.compare_digest(m[:16], vault_id) \
                or not hmac.compare_digest(scalarmult_base(m[16:48]), r["age_public"]) \
                or not hmac.compare_digest(sign_seed_public(m[48:80]), r["signing_public"]):
            fail("the sharing identity failed authentication")
        identity = {"recipient": bech32("age", r["age_public"]), "signing_key": bech32("v1vsig", r["signing_public"])}
    counts = {"recipients": 0, "follows": 0, "received": 0}
    # Rule 1: each row's own MAC, rows read from the tables themselves (never through an index).
    recipients, follows, received = [], [], []
    for r in db.execute("SELECT id, name, age_recipient, signing_key, trusted, created_at, mac FROM recipients NOT INDEXED"):
        ok = integer(r["id"]) and isinstance(r["name"], str) and isinstance(r["age_recipient"], str) \
            and (r["signing_key"] is None or blob(r["signing_key"], 32)) and r["trusted"] in (0, 1) \
            and integer(r["trusted"]) and integer(r["created_at"]) and blob(r["mac"], 32)
        if ok:
            key = b"\x00" if r["signing_key"] is None else b"\x01" + r["signing_key"]
            m = b"v1vault-recipient-v1" + vault_id + u64(r["id"]) + S(r["name"]) + S(r["age_recipient"]) + key \
                + bytes([r["trusted"]]) + u64(r["created_at"])
            ok = hmac.compare_digest(generichash(meta_key, m), r["mac"])
        if not ok:
            fail("recipient %s failed authentication" % json.dumps(r["name"]))
        recipients.append((r["id"], r["mac"]))
    for r in db.execute("SELECT recipient_id, token_id, mac FROM recipient_follows NOT INDEXED"):
        ok = integer(r["recipient_id"]) and integer(r["token_id"]) and blob(r["mac"], 32) and hmac.compare_digest(
            generichash(meta_key, b"v1vault-follow-v1" + vault_id + u64(r["recipient_id"]) + u64(r["token_id"])), r["mac"])
        if not ok:
            fail("follow mark (recipient %s, token %s) failed authentication" % (r["recipient_id"], r["token_id"]))
        follows.append((r["recipient_id"], r["token_id"], r["mac"]))
    for r in db.execute("SELECT token_id, sender_key, remote_version, received_at, mac FROM received_tokens NOT INDEXED"):
        ok = integer(r["token_id"]) and blob(r["sender_key"], 32) and integer(r["remote_version"]) \
            and 1 <= r["remote_version"] <= 0xFFFFFFFF and integer(r["received_at"]) and blob(r["mac"], 32) and hmac.compare_digest(
                generichash(meta_key, b"v1vault-received-v1" + vault_id + u64(r["token_id"]) + r["sender_key"]
                            + u64(r["remote_version"]) + u64(r["received_at"])), r["mac"])
        if not ok:
            fail("the received mark of token %s failed authentication" % r["token_id"])
        received.append((r["token_id"], r["mac"]))
    recipients.sort()
    follows.sort()
    received.sort()
    counts = {"recipients": len(recipients), "follows": len(follows), "received": len(received)}

    # Rule 2: at most one sharing_state row, id 1, its MAC over exactly the rows above.
    states = db.execute("SELECT id, state_seq, mac FROM sharing_state NOT INDEXED").fetchall()
    if len(states) > 1:
        fail("more than one sharing_state row")
    if not states:
        # No state: a vault upgraded from schema 6 that has not sealed it yet, unless a sealed,
        # successful audit row says a command changed the sharing rows under schema 7.
        marked = db.execute("SELECT seq FROM audit_log NOT INDEXED WHERE mac IS NOT NULL AND outcome = 'ok' AND instr(details, ?) > 0",
                            (SHARING_MARKER,)).fetchone()
        if marked:
            fail("the sharing state was deleted (audit row %d sealed it)" % marked[0])
        return identity, counts, "unsealed"
    st = states[0]
    if st["id"] != 1 or not integer(st["id"]) or not integer(st["state_seq"]) or not st["state_seq"] >= 1 or not blob(st["mac"], 32):
        fail("the sharing state row has a value of the wrong type or range")
    seq = st["state_seq"]
    m = b"v1vault-sharing-state-v1" + vault_id + u64(seq) + struct.pack(">I", len(recipients)) + b"".join(u64(i) + mac for i, mac in recipients)
    m += struct.pack(">I", len(follows)) + b"".join(u64(rid) + u64(tid) + mac for rid, tid, mac in follows)
    m += struct.pack(">I", len(received)) + b"".join(u64(tid) + mac for tid, mac in received)
    if not hmac.compare_digest(generichash(meta_key, m), st["mac"]):
        fail("the sharing state failed authentication (a recipient, follow or received mark was added, removed or put back)")

    # Rule 3: audit row state_seq exists and is sealed; the chain from it verifies to the last
    # sealed row (pending rows may follow it). Rule 4: no sealed, successful row after it carries
    # the marker (the rows would be an older copy put back).
    start = db.execute("SELECT mac FROM audit_log NOT INDEXED WHERE seq = ?", (seq,)).fetchone()
    if start is None or not blob(start["mac"], 32):
        fail("the sharing state names audit row %d, which is missing or not sealed" % seq)
    prev, last, first_pending, changed = start["mac"], seq, None, None
    for r in db.execute("SELECT * FROM audit_log NOT INDEXED WHERE seq > ?", (seq,)).fetchall():
        if not (integer(r["seq"]) and all(isinstance(r[c], str) for c in ("at", "action", "tokens", "outcome", "details", "os_user", "host"))
                and (r["reason"] is None or isinstance(r["reason"], str)) and integer(r["uid"]) and integer(r["pid"])
                and (r["mac"] is None or blob(r["mac"], 32))):
            fail("audit row %s holds a value of the wrong type" % r["seq"])
    for r in sorted(db.execute("SELECT * FROM audit_log NOT INDEXED WHERE seq > ?", (seq,)).fetchall(), key=lambda r: r["seq"]):
        if r["mac"] is None:
            first_pending = first_pending or r["seq"]
            last = r["seq"]
            continue
        if first_pending is not None:
            fail("the audit log after the sharing state does not verify (unsealed row %d inside the chain)" % first_pending)
        if r["seq"] != last + 1:
            fail("the audit log after the sharing state does not verify (rows missing between %d and %d)" % (last, r["seq"]))
        mac = audit_mac(r["seq"], prev, r)
        if not hmac.compare_digest(mac, r["mac"]):
            fail("the audit log after the sharing state does not verify (row %d)" % r["seq"])
        if r["outcome"] == "ok" and SHARING_MARKER in r["details"]:
            changed = r["seq"]
        prev, last = mac, r["seq"]
    if changed is not None:
        fail("the sharing state (audit row %d) is older than audit row %d: the sharing rows were rolled back" % (seq, changed))
    return identity, counts, {"state_seq": seq}

main()
