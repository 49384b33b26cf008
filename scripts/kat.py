#!/usr/bin/env python3
"""Known-answer vectors for SECURITY.md, computed from the spec alone (libsodium via ctypes,
BLAKE2b with salt/personal for the subkeys, no v1vault code). The test suite checks the Swift
implementation against the same hex (KnownAnswerTests)."""
import base64, ctypes, ctypes.util, hashlib, struct

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

# Schema 6 ("Sharing"). The share key, from the same master.
share_key = subkey(master, b"V1VSHARE")
print("subkey V1VSHARE %s" % share_key.hex())

# Bech32 (BIP 173), written here from the BIP: 8-bit groups to 5-bit words, then the checksum.
def bech32(hrp, data):
    charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
    words, acc, bits = [], 0, 0
    for b in data:
        acc, bits = (acc << 8) | b, bits + 8
        while bits >= 5:
            bits -= 5
            words.append((acc >> bits) & 31)
    if bits:
        words.append((acc << (5 - bits)) & 31)
    chk = 1
    for v in [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp] + words + [0] * 6:
        top, chk = chk >> 25, ((chk & 0x1FFFFFF) << 5) ^ v
        for i, g in enumerate((0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)):
            chk ^= g if (top >> i) & 1 else 0
    chk ^= 1
    return hrp + "1" + "".join(charset[w] for w in words + [(chk >> 5 * (5 - i)) & 31 for i in range(6)])

def x25519_public(secret):
    out = ctypes.create_string_buffer(32)
    assert na.crypto_scalarmult_base(out, secret) == 0
    return out.raw

def ed25519_keypair(seed):
    pk, sk = ctypes.create_string_buffer(32), ctypes.create_string_buffer(64)
    assert na.crypto_sign_seed_keypair(pk, sk, seed) == 0
    return pk.raw, sk.raw

# The identity box: x25519_secret = 01 02 … 20, ed25519_seed = 21 22 … 40, nonce = c0 c1 … d7.
x25519_secret, ed25519_seed = bytes(range(0x01, 0x21)), bytes(range(0x21, 0x41))
identity_nonce = bytes(range(0xC0, 0xD8))
age_public = x25519_public(x25519_secret)
signing_public, signing_secret = ed25519_keypair(ed25519_seed)
print("identity_sealed %s" % secretbox(vault_id + x25519_secret + ed25519_seed, identity_nonce, share_key).hex())
print("identity_age_public %s" % age_public.hex())
print("identity_signing_public %s" % signing_public.hex())
print("identity_recipient %s" % bech32("age", age_public))
print("identity_signing_key %s" % bech32("v1vsig", signing_public))

# A recipient (the identity above, as another vault would store it), trusted, and one without a
# signing key, untrusted; a follow; a received mark.
def recipient_mac(rid, name, age, key, trusted, created):
    m = vault_id + u64(rid) + S(name) + S(age) + (b"\0" if key is None else b"\1" + key) + bytes([trusted]) + u64(created)
    return blake2b(keys["V1VMETA_"], b"v1vault-recipient-v1" + m)
print("recipient_mac %s" % recipient_mac(1, "host-a", bech32("age", age_public), signing_public, 1, 1798761600).hex())
print("recipient_mac_unsigned %s" % recipient_mac(2, "host-b", bech32("age", age_public), None, 0, 1798761600).hex())
print("follow_mac %s" % blake2b(keys["V1VMETA_"], b"v1vault-follow-v1" + vault_id + u64(1) + u64(1)).hex())
received_mac = blake2b(keys["V1VMETA_"], b"v1vault-received-v1" + vault_id + u64(1) + signing_public + u64(3) + u64(1798761600))
print("received_mac %s" % received_mac.hex())

# The sharing state (schema 7) over exactly those rows: recipients 1 and 2 (by id), the follow
# (1, 1), the received mark of token 1; state_seq 9. Then the empty state a new vault stores
# (state_seq 1: its init row).
def u32(n):
    return struct.pack(">I", n)
def state_mac(seq, recipients, follows, received):
    m = vault_id + u64(seq) + u32(len(recipients)) + b"".join(u64(i) + mac for i, mac in recipients)
    m += u32(len(follows)) + b"".join(u64(r) + u64(t) + mac for r, t, mac in follows)
    m += u32(len(received)) + b"".join(u64(t) + mac for t, mac in received)
    return blake2b(keys["V1VMETA_"], b"v1vault-sharing-state-v1" + m)
follow_mac = blake2b(keys["V1VMETA_"], b"v1vault-follow-v1" + vault_id + u64(1) + u64(1))
print("sharing_state_mac %s" % state_mac(9, [(1, recipient_mac(1, "host-a", bech32("age", age_public), signing_public, 1, 1798761600)),
                                                (2, recipient_mac(2, "host-b", bech32("age", age_public), None, 0, 1798761600))],
                                            [(1, 1, follow_mac)], [(1, received_mac)]).hex())
print("sharing_state_mac_empty %s" % state_mac(1, [], [], []).hex())

# A complete transfer document: the identity above sends one key to one addressee (the X25519
# public key of 41 42 … 60), issued 2027-01-04T03:00:00Z.
def J(x):
    # The canonical JSON string literal: only " and \ and controls escaped.
    out = '"'
    for ch in x:
        out += '\\"' if ch == '"' else '\\\\' if ch == '\\' else ('\\u%04x' % ord(ch)) if ord(ch) < 0x20 else ch
    return out + '"'
addressee = bech32("age", x25519_public(bytes(range(0x41, 0x61))))
signed = (("v1vault-transfer 1\n"
          "from %s\nsigner %s\nissued 2027-01-04T03:00:00Z\nto %s\nkeys 1\n"
          "key %s\nregion %s\nbase-url %s\nrole %s\ndescription %s\npermissions [%s]\nversion 2\n"
          "created 2027-01-01T00:00:00Z\nexpires 2028-01-01T00:00:00Z\nconsole-id %s\nconsole-name %s\n"
          "value eyJ.kat-token\nend\n") % (
    bech32("age", age_public), bech32("v1vsig", signing_public), addressee, J("siem"), J("eu"),
    J("https://api.eu.xdr.trendmicro.com"), J("SIEM"), J('SOC "tier 1"'), ",".join(map(J, ["a", "b"])),
    J("1234-abcd"), J("siem"))).encode()
message = b"v1vault-transfer-signature-v1\n" + signed
signature = ctypes.create_string_buffer(64)
assert na.crypto_sign_detached(signature, None, message, ctypes.c_ulonglong(len(message)), signing_secret) == 0
document = signed + b"signature " + base64.b64encode(signature.raw) + b"\n"
print("transfer_addressee %s" % addressee)
print("transfer_signature %s" % signature.raw.hex())
print("transfer_document_sha256 %s" % hashlib.sha256(document).hexdigest())
print("transfer_document:")
print(document.decode(), end="")
