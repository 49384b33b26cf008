import ArgumentParser
import Foundation
import VaultCore

/// The clearer `copy` starts in the background (hidden): waits, then clears. It holds no
/// secret — the terminal for OSC 52, or a fingerprint read from stdin for a tool.
struct ClearClipboard: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "__clear-clipboard", shouldDisplay: false)

    @Option var via: ClipboardMethod
    @Option var after: Int

    func run() throws {
        // The clipboard tools it runs (wl-paste, xclip -o) need no vault session: a fresh empty
        // session keyring, as `exec` gives its command. Where keyrings are blocked there is
        // nothing to hide, and the clearer holds no secret, so a failure changes nothing.
        try? KernelKeyring.joinNewSession()
        Clipboard.clearLater(method: via, seconds: after, environment: ProcessInfo.processInfo.environment)
    }
}
