#!/usr/bin/env python3
"""Test helper: runs a command on a new pseudo-terminal (its controlling tty) and answers prompts.

    pty-drive.py STEPS_JSON COMMAND [ARGS...]

STEPS_JSON is a list of [expected_text, reply]; each reply is sent once expected_text has appeared
since the previous step. The reply "<SIGTERM>" sends SIGTERM to the command instead of typing, "<SIGTERM-GROUP>" to its process group. Prints {"status": exit code (negative = signal), "output": everything
the terminal showed, "echo": whether echo was on when it ended}.
Job control, as a shell does it: "<CTRL-Z>" types Ctrl-Z and waits until the command has stopped;
"<SIGCONT>" turns echo on (bash puts its own settings back while a job is stopped), continues the
command, and fails (exit 2) unless it turns echo off again within 10 s. A step not satisfied within 30 s aborts with exit 2 (a safety net only).
"""
import json, os, pty, select, signal, sys, termios, time

steps = json.loads(sys.argv[1])
pid, fd = pty.fork()
if pid == 0:
    # The test runner's threads block most signals and children inherit that mask: give the
    # command the ordinary one a shell would.
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    if any(reply == "<CTRL-Z>" for _, reply in steps):
        # Job control: the kernel discards Ctrl-Z's stop for an orphaned process group (a
        # session leader's), so this process stays as the "shell" and runs the command as the
        # terminal's foreground job in a group of its own, and exits as it exits.
        child = os.fork()
        if child == 0:
            os.setpgid(0, 0)
            signal.signal(signal.SIGTTOU, signal.SIG_IGN)
            os.tcsetpgrp(0, os.getpgrp())
            signal.signal(signal.SIGTTOU, signal.SIG_DFL)
            os.execv(sys.argv[2], sys.argv[2:])
        _, status = os.waitpid(child, 0)
        code = os.waitstatus_to_exitcode(status)
        if code < 0:
            os.kill(os.getpid(), -code)
        os._exit(code & 0xff)
    os.execv(sys.argv[2], sys.argv[2:])

seen = b""
def read_some(deadline):
    global seen
    r, _, _ = select.select([fd], [], [], max(0.0, deadline - time.time()))
    if not r:
        return False
    try:
        data = os.read(fd, 4096)
    except OSError:
        data = b""
    if not data:
        return None
    seen += data
    return True

pos = 0
for expected, reply in steps:
    deadline = time.time() + 30
    while expected.encode() not in seen[pos:]:
        got = read_some(deadline)
        if got is None or (got is False and time.time() >= deadline):
            print(json.dumps({"status": 2, "output": seen.decode("utf-8", "replace"), "error": "never saw %r" % expected}))
            sys.exit(2)
    pos = seen.index(expected.encode(), pos) + len(expected)
    if reply == "<SIGTERM>":
        os.kill(pid, 15)
    elif reply == "<CTRL-Z>":
        job = os.tcgetpgrp(fd)  # the foreground group; its leader is the command
        os.write(fd, b"\x1a")
        deadline = time.time() + 30
        while True:
            try:
                state = open("/proc/%d/stat" % job).read().rsplit(")", 1)[1].split()[0]
            except OSError:
                state = "gone"
            if state == "T":
                break
            if state in ("gone", "Z") or time.time() >= deadline:
                print(json.dumps({"status": 2, "output": seen.decode("utf-8", "replace"), "error": "Ctrl-Z did not stop it"}))
                sys.exit(2)
            read_some(time.time() + 0.05)
    elif reply == "<SIGCONT>":
        attrs = termios.tcgetattr(fd)
        attrs[3] |= termios.ECHO | termios.ICANON
        termios.tcsetattr(fd, termios.TCSANOW, attrs)
        os.killpg(os.tcgetpgrp(fd), signal.SIGCONT)
        deadline = time.time() + 10
        while termios.tcgetattr(fd)[3] & termios.ECHO:
            if time.time() >= deadline:
                print(json.dumps({"status": 2, "output": seen.decode("utf-8", "replace"), "error": "echo still on after SIGCONT"}))
                sys.exit(2)
            read_some(time.time() + 0.05)
    elif reply == "<SIGUSR1>":
        os.kill(pid, 10)
    elif reply == "<SIGTERM-GROUP>":  # the whole foreground job: a shell and the command it waits for
        os.killpg(os.getpgid(pid), 15)
    else:
        os.write(fd, reply.encode("latin-1"))

while read_some(time.time() + 30):
    pass
# A command still waiting for input once every step is answered would hang the test run:
# give it 10 s to exit, then kill it and report that (exit 2, "hung").
for _ in range(100):
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        break
    time.sleep(0.1)
else:
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    print(json.dumps({"status": 2, "output": seen.decode("utf-8", "replace"), "error": "hung waiting for input after the last step"}))
    sys.exit(2)
try:  # the terminal's settings as the command left them (the master reports the slave's)
    echo = bool(termios.tcgetattr(fd)[3] & termios.ECHO)
except termios.error:
    echo = None
print(json.dumps({"status": os.waitstatus_to_exitcode(status), "output": seen.decode("utf-8", "replace"), "echo": echo}))
