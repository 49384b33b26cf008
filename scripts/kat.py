#!/usr/bin/env python3
"""Known-answer vectors for SECURITY.md, computed from the spec alone (libsodium via ctypes,
BLAKE2b with salt/personal for the subkeys, no v1vault code). The test suite checks the Swift
implementation against the same hex (KnownAnswerTests)."""
import ctypes, ctypes.util, struct

na = ctypes.CDLL(ctypes.util.find_library("sodium") or "libsodium.so.23")
assert na.sodium_init() >= 0

def blake2b(key, data, salt=None, personal=None):
    out = ctypes.create_string_buffer(32)
    if salt is None:
        assert na.crypto_generichash(out, ctypes.c_size_t(32), data, ctypes.c_ulonglong(len(data)), key, ctypes.c_size_t(len(key))) == 0
    else:
        assert na.crypto_generichash_blake2b_salt_personal(out, ctypes.c_size_t(32), data, ctypes.c_ulonglong(len(data)),
                                                           key, ctypes.c_size_t(len(key)), salt, personal) == 0
    return out.raw

def subkey(master, ctx):
    return blake2b(master, b"", struct.pack("<Q", 1) + b"\0" * 8, ctx + b"\0" * 8)

def secretbox(m, n, k):
    c = ctypes.create_string_buffer(len(m) + 16)
    assert na.crypto_secretbox_easy(c, m, ctypes.c_ulonglong(len(m)), n, k) == 0
    return c.raw

def S(x):
    b = x.encode()
    return struct.pack(">I", len(b)) + b

def O(x):
    return b"\0" if x is None else b"\1" + S(x)

def u64(v):
    return struct.pack(">Q", v & 0xFFFFFFFFFFFFFFFF)

master = bytes(range(32))
vault_id = bytes(range(0xA0, 0xB0))
keys = {ctx: subkey(master, ctx.encode()) for ctx in ("V1VTOKEN", "V1VAUDIT", "V1VMETA_", "V1VAKEYS")}
for ctx, k in keys.items():
    print("subkey %s %s" % (ctx, k.hex()))

meta = vault_id + u64(1) + S("siem") + O("eu") + S("https://api.eu.xdr.trendmicro.com") + O("SIEM") + O(None) \
    + S('["a","b"]') + u64(1767225600)
print("meta_mac %s" % blake2b(keys["V1VMETA_"], b"v1vault-meta-v1" + meta).hex())

def E(seq, at, action, tokens, outcome, reason, details, user, uid, host, pid):
    return u64(seq) + S(at) + S(action) + S(tokens) + S(outcome) + O(reason) + S(details) + S(user) + u64(uid) + S(host) + u64(pid)
row1 = E(1, "2027-01-01T00:00:00.000Z", "init", "[]", "ok", None, '{"state":"sealed"}', "u", 7, "h", 9)
row2 = E(2, "2027-01-01T00:00:01.000Z", "add", '[{"name":"siem","version":1}]', "ok", None, '{"region":"eu","state":"sealed"}', "u", 7, "h", 10)
mac1 = blake2b(keys["V1VAUDIT"], b"v1vault-audit-v1" + b"\0" * 32 + row1)
mac2 = blake2b(keys["V1VAUDIT"], b"v1vault-audit-v1" + mac1 + row2)
print("audit_mac_1 %s" % mac1.hex())
print("audit_mac_2 %s" % mac2.hex())

nonce = bytes(range(0x40, 0x58))
plain = vault_id + struct.pack(">QI", 1, 1) + b"eyJ.kat-token"
print("sealed_nonce %s" % nonce.hex())
print("sealed_ciphertext %s" % secretbox(plain, nonce, keys["V1VTOKEN"]).hex())

state = vault_id + u64(1) + u64(2) + struct.pack(">II", 1, 1) + struct.pack(">I", 1) + u64(1767225600) + b"\1" + u64(1798761600) + b"\0" + nonce
print("state_mac %s" % blake2b(keys["V1VMETA_"], b"v1vault-state-v1" + state).hex())

# Schema 5 ("Console links"). Metadata MAC v2: the v1 input, then W(warn_days) || u8(manager).
def W(d):
    return b"\0" if d is None else b"\1" + struct.pack(">I", d)
print("meta_mac_v2 %s" % blake2b(keys["V1VMETA_"], b"v1vault-meta-v2" + meta + W(14) + b"\1").hex())
print("meta_mac_v2_manager %s" % blake2b(keys["V1VMETA_"], b"v1vault-meta-v2" + meta + W(None) + b"\1").hex())

# State MAC v2: three versions, 2 current, 3 staged (retired_at set, newer than the current one);
# each version's entry is followed by O(console_id) || O(console_name) || O(console_state).
def X(t):
    return b"\0" if t is None else b"\1" + u64(t)
versions = [  # version, created_at, expires_at, retired_at, nonce, console_id, console_name, console_state
    (1, 1767225600, 1798761600, 1780000000, bytes(range(0x40, 0x58)), None, None, None),
    (2, 1780000000, 1811536000, None, bytes(range(0x58, 0x70)), "1234-abcd", "siem", "enabled"),
    (3, 1790000000, 1821536000, 1790000000, bytes(range(0x70, 0x88)), "5678-ef01", "siem-v1v20260923-0a1b", "enabled"),
]
state2 = vault_id + u64(1) + u64(7) + struct.pack(">II", 2, len(versions))
for v, created, expires, retired, n, cid, cname, cstate in versions:
    state2 += struct.pack(">I", v) + u64(created) + X(expires) + X(retired) + n + O(cid) + O(cname) + O(cstate)
# ...and the input ends with the token's meta_mac: here the metadata MAC v2 vector above.
meta_v2 = blake2b(keys["V1VMETA_"], b"v1vault-meta-v2" + meta + W(14) + b"\1")
print("state_mac_v2 %s" % blake2b(keys["V1VMETA_"], b"v1vault-state-v2" + state2 + meta_v2).hex())

# Renewal intent MAC.
intent = vault_id + u64(1) + u64(1) + S("siem-v1v20270101-0a1b") + S("https://api.eu.xdr.trendmicro.com") + u64(1798761600)
print("intent_mac %s" % blake2b(keys["V1VMETA_"], b"v1vault-intent-v1" + intent).hex())
