import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What a fatal signal (SIGINT, SIGTERM, SIGHUP, SIGQUIT) must undo before the process dies:
/// a terminal left without echo by a hidden prompt, and files created for output that hold
/// nothing yet (`export -o`, its temporary file). The handler only calls async-signal-safe
/// functions (tcsetattr, unlink, signal, raise) on state prepared in advance.
public enum Interrupt {
    static let slots = 4
    nonisolated(unsafe) static var ttyFD: Int32 = -1
    nonisolated(unsafe) static var ttySaved = termios()
    nonisolated(unsafe) static let paths = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: slots)
    nonisolated(unsafe) static var installed = false

    static func install() {
        guard !installed else { return }
        installed = true
        paths.initialize(repeating: nil, count: slots)
        // Touch every global the handler reads, so none is lazily initialised inside it.
        _ = ttyFD; _ = ttySaved; _ = slots
        for sig in [SIGINT, SIGTERM, SIGHUP, SIGQUIT] {
            signal(sig) { sig in
                // TCSAFLUSH: what was typed or pasted while echo was off (a key half-pasted at
                // its prompt) is discarded, not left for the shell to read as a command line.
                if Interrupt.ttyFD >= 0 { _ = tcsetattr(Interrupt.ttyFD, TCSAFLUSH, &Interrupt.ttySaved) }
                for i in 0..<Interrupt.slots { if let p = Interrupt.paths[i] { unlink(p) } }
                signal(sig, SIG_DFL)
                raise(sig)
            }
        }
    }

    /// While a hidden prompt runs: the state to put back if a signal ends the process.
    static func guardTerminal(fd: Int32, saved: termios) {
        install()
        ttySaved = saved
        ttyFD = fd
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
