#!/usr/bin/env python3
"""Runs a command with the kernel keyring system calls (add_key, request_key, keyctl) failing
with EPERM, as Docker's default seccomp profile makes them fail:

    scripts/without-keyring.py CMD [ARGS...]
    scripts/without-keyring.py --fail-join CMD [ARGS...]

Used by the tests of `vault unlock` where keyrings are unavailable. A seccomp filter is
inherited by every child and cannot be removed, so CMD and all it starts are covered.
With --fail-join only keyctl(KEYCTL_JOIN_SESSION_KEYRING, ...) fails, with EDQUOT (a key
quota that is full): the tests of `vault exec`, which must then not run the command.
"""
import ctypes, os, struct, sys

ARCH = {"x86_64": (0xC000003E, (248, 249, 250)), "aarch64": (0xC00000B7, (217, 218, 219))}
arch, (add_key, request_key, keyctl) = ARCH[os.uname().machine]
LD_W_ABS, JEQ_K, RET_K = 0x20, 0x15, 0x06
ALLOW, ERRNO_EPERM = 0x7FFF0000, 0x00050000 | 1
ERRNO_EDQUOT, KEYCTL_JOIN_SESSION_KEYRING = 0x00050000 | 122, 1
fail_join = sys.argv[1:2] == ["--fail-join"]
if fail_join:
    del sys.argv[1]
    program = [
        (LD_W_ABS, 0, 0, 4),        # 0: seccomp_data.arch
        (JEQ_K, 0, 4, arch),        # 1: another ABI: allow
        (LD_W_ABS, 0, 0, 0),        # 2: seccomp_data.nr
        (JEQ_K, 0, 2, keyctl),      # 3: not keyctl: allow
        (LD_W_ABS, 0, 0, 16),       # 4: args[0], low 32 bits
        (JEQ_K, 1, 0, KEYCTL_JOIN_SESSION_KEYRING),  # 5
        (RET_K, 0, 0, ALLOW),       # 6
        (RET_K, 0, 0, ERRNO_EDQUOT),  # 7
    ]
else:
    program = [
        (LD_W_ABS, 0, 0, 4),        # 0: seccomp_data.arch
        (JEQ_K, 0, 4, arch),        # 1: another ABI: allow
        (LD_W_ABS, 0, 0, 0),        # 2: seccomp_data.nr
        (JEQ_K, 3, 0, add_key),     # 3
        (JEQ_K, 2, 0, request_key), # 4
        (JEQ_K, 1, 0, keyctl),      # 5
        (RET_K, 0, 0, ALLOW),       # 6
        (RET_K, 0, 0, ERRNO_EPERM), # 7
    ]
code = b"".join(struct.pack("HBBI", *i) for i in program)
buf = ctypes.create_string_buffer(code, len(code))

class Prog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

libc = ctypes.CDLL(None, use_errno=True)
prog = Prog(len(program), ctypes.addressof(buf))
PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 or \
   libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
    sys.exit("without-keyring: cannot install the seccomp filter: " + os.strerror(ctypes.get_errno()))
os.execvp(sys.argv[1], sys.argv[1:])
