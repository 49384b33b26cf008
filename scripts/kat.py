#!/usr/bin/env python3
"""Known-answer vectors for SECURITY.md, computed from the spec alone (libsodium via ctypes,
BLAKE2b with salt/personal for the subkeys, no v1vault code). The test suite checks the Swift
implementation against the same hex (CryptoTests, "known-answer vectors")."""
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
