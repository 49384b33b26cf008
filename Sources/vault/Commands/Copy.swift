import ArgumentParser
import Foundation
import VaultCore
import VaultFormat
import VaultStorage

extension ClipboardMethod: ExpressibleByArgument {}

struct Copy: ParsableCommand, UsesGlobalOptions, NamesOneToken {
    static let configuration = CommandConfiguration(
        commandName: "copy",
        abstract: "Put a key's token on the clipboard and clear it after 45 s (audited).",
        discussion: """
            Methods, first that works: wl-copy (WAYLAND_DISPLAY set, wl-copy installed), xclip \
            (DISPLAY set, xclip installed), then OSC 52: an escape sequence written to the \
            terminal (/dev/tty), which sets the clipboard of the terminal emulator you type \
            in — over SSH too; inside tmux only with `set -g set-clipboard on`. The token goes \
            to a tool through its stdin, never its arguments. Clearing runs in the background: \
            wl-copy and xclip are cleared only if they still hold the key (something copied \
            since is left alone); OSC 52 cannot be read back, so its clipboard is emptied \
            whatever it holds then. No clipboard here (no terminal, TERM=dumb, no tool): exit \
            29 and nothing is revealed.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var token: TokenNameArgument
    @Option(help: ArgumentHelp("osc52, wl-copy or xclip instead of the first that works.", valueName: "method")) var via: ClipboardMethod?
    @Option(help: ArgumentHelp("Clear the clipboard after this many seconds; 0: never.", valueName: "seconds"))
    var clear: Int = Clipboard.defaultClearSeconds
    @Option(help: ArgumentHelp("A retired version instead of the current one.", valueName: "n")) var version: Int?
    @Flag(name: .customLong("allow-expired"), help: "Copy it even if the version has expired.") var allowExpired = false

    func validate() throws {
        if !(0...86_400).contains(clear) { throw ValidationError("--clear takes 0 to 86400 seconds") }
    }

    func run() throws {
        let vault = try global.openVault()
        try vault.store.requireTokens([name])
        // Before the passphrase and the reveal: with no clipboard, nothing is unlocked or audited.
        let target = try Clipboard.target(forced: via, environment: global.environment)
        let method = target.method
        let unlocked = try global.unlock(vault)
        let revealed = try unlocked.reveal(name, version: version, allowExpired: allowExpired, action: RevealAction.copy,
                                           details: ["via": method.rawValue, "clear": "\(clear)"])
        if let w = revealed.warning { Output.warn(w) }
        var secret = SecureBytes(capacity: revealed.secret.count, empty: true)
        secret.append(revealed.secret)
        do {
            try Clipboard.copy(secret, to: target)
        } catch {
            // The reveal's row says `copy` ok; say in the log too that the key never got there.
            try? unlocked.record(RevealAction.copy, subjects: [AuditSubject(name: name, version: revealed.version)],
                                 details: ["via": method.rawValue, "stage": "clipboard"], error: error)
            throw error
        }
        if clear > 0 {
            try Clipboard.scheduleClear(target, fingerprint: secret.fingerprint(),
                                        helper: [ClearClipboard.configuration.commandName!, "--via", method.rawValue, "--after", "\(clear)"],
                                        argv0: Output.program)
        }
        let clearing = clear == 0 ? "not cleared (--clear 0)"
            : method == .osc52 ? "emptied in \(clear) s (whatever it holds then: a terminal cannot be asked)"
            : "cleared in \(clear) s if it still holds the key"
        Output.note(method == .osc52
            ? "sent \(name) to the terminal's clipboard (OSC 52); \(clearing)"
            : "copied \(name) to the clipboard with \(method.rawValue); \(clearing)")
        if method == .osc52, !(global.environment["TMUX"] ?? "").isEmpty {
            Output.note("inside tmux this reaches the clipboard only with `set -g set-clipboard on` (tmux then also keeps it as a paste buffer: `tmux delete-buffer`)")
        } else if method == .osc52, !(global.environment["STY"] ?? "").isEmpty {
            Output.note("GNU screen does not pass OSC 52 on to the terminal: the clipboard probably did not change")
        }
    }
}
