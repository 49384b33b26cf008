import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What a fatal signal (SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1/2, SIGALRM and the other timers, SIGXCPU, SIGXFSZ) must undo before the process dies:
/// a terminal left without echo by a hidden prompt, and files created for output that hold
/// nothing yet (`export -o`, its temporary file); and what it must still say: the fail-closed
/// line of an `export` whose stdout a shell evaluates (`failClosedOnSignal`). The handler only
/// calls async-signal-safe functions (tcsetattr, unlink, write, signal, raise) on state
/// prepared in advance.
public enum Interrupt {
    static let slots = 4
    nonisolated(unsafe) static var ttyFD: Int32 = -1
    nonisolated(unsafe) static var ttySaved = termios()
    /// The settings the hold has in effect now (echo off between prompts, raw during one),
    /// put back when the process is continued after a stop (`SIGCONT`).
    nonisolated(unsafe) static var ttyActive = termios()
    nonisolated(unsafe) static let paths = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: slots)
    nonisolated(unsafe) static var installed = false
    /// Written to stdout by the handler when set (`failClosedOnSignal`).
    nonisolated(unsafe) static var failLine: UnsafeMutablePointer<CChar>?
    nonisolated(unsafe) static var failLineLength = 0

    /// The signals the handler catches: each one's default action would end the process with
    /// the terminal left without echo.
    static let fatalSignals: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM, SIGVTALRM, SIGPROF, SIGXCPU, SIGXFSZ]

    static func install() {
        guard !installed else { return }
        installed = true
        paths.initialize(repeating: nil, count: slots)
        // Touch every global the handler reads, so none is lazily initialised inside it.
        _ = ttyFD; _ = ttySaved; _ = slots; _ = failLine; _ = failLineLength
        // Every signal whose default action ends the process and that another process may send
        // (SIGKILL cannot be caught; SIGSEGV and the like are the process's own faults).
        for sig in fatalSignals {
            signal(sig) { sig in
                // TCSAFLUSH: what was typed or pasted while echo was off (a key half-pasted at
                // its prompt) is discarded, not left for the shell to read as a command line.
                if Interrupt.ttyFD >= 0 { _ = tcsetattr(Interrupt.ttyFD, TCSAFLUSH, &Interrupt.ttySaved) }
                for i in 0..<Interrupt.slots { if let p = Interrupt.paths[i] { unlink(p) } }
                if let line = Interrupt.failLine { _ = write(1, line, Interrupt.failLineLength) }
                signal(sig, SIG_DFL)
                raise(sig)
            }
        }
        // Ctrl-Z between prompts (while the KDF runs): the shell gets the terminal back with
        // its settings, and on `fg` puts its own back (bash restores echo) — so on SIGCONT the
        // hold's settings are applied again, or a key pasted then would be shown. Before the
        // stop the terminal's own settings are restored, for a shell that does not.
        _ = ttyActive
        stopHandler()
        signal(SIGCONT) { _ in
            Interrupt.stopHandler()
            if Interrupt.ttyFD >= 0, tcgetpgrp(Interrupt.ttyFD) == getpgrp() {
                _ = tcsetattr(Interrupt.ttyFD, TCSANOW, &Interrupt.ttyActive)
            }
        }
    }

    static func stopHandler() {
        signal(SIGTSTP) { _ in
            // TCSAFLUSH: a key pasted while the KDF ran must not become the shell's input.
            if Interrupt.ttyFD >= 0, tcgetpgrp(Interrupt.ttyFD) == getpgrp() {
                _ = tcsetattr(Interrupt.ttyFD, TCSAFLUSH, &Interrupt.ttySaved)
            }
            signal(SIGTSTP, SIG_DFL)
            raise(SIGTSTP)  // blocked in the handler: the process stops as it returns
        }
    }

    /// Until `keepStdout`, a fatal signal writes `line` to stdout before the process dies: a
    /// killed `eval "$(vault export …)"` (`timeout`, `kill`) would otherwise leave the shell an
    /// empty string, which `eval` runs successfully, and a `set -e` script would go on.
    public static func failClosedOnSignal(_ line: String) {
        let c = strdup(line)!
        failLineLength = strlen(c)
        failLine = c
        install()
    }

    /// The output is complete: a signal no longer adds the fail-closed line.
    public static func keepStdout() { failLine = nil }

    /// While a hidden prompt runs: the state to put back if a signal ends the process.
    static func guardTerminal(fd: Int32, saved: termios, active: termios) {
        install()
        ttySaved = saved
        ttyActive = active
        ttyFD = fd
    }

    /// The hold now puts `settings` into effect (set before `tcsetattr`): what SIGCONT restores.
    /// SIGCONT is blocked meanwhile, so the handler never reads a half-written copy.
    static func activeTerminal(_ settings: termios) {
        var block = sigset_t(), previous = sigset_t()
        sigemptyset(&block)
        sigaddset(&block, SIGCONT)
        pthread_sigmask(SIG_BLOCK, &block, &previous)
        ttyActive = settings
        pthread_sigmask(SIG_SETMASK, &previous, nil)
    }

    static func releaseTerminal() { ttyFD = -1 }

    /// Removes `path` if a signal ends the process before `keep(slot)`; returns the slot.
    public static func removeOnSignal(_ path: String) -> Int? {
        install()
        for i in 0..<slots where paths[i] == nil {
            paths[i] = strdup(path)
            return i
        }
        return nil
    }

    /// The file is complete (or removed by its owner): a signal no longer touches it.
    public static func keep(_ slot: Int?) {
        guard let slot, let p = paths[slot] else { return }
        paths[slot] = nil
        free(p)
    }
}
