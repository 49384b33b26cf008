import ArgumentParser
import Foundation
import VaultCore
import VaultFormat

/// Reading the pasted key of `add` and `rotate`, with --force.
struct PastedKeyOptions: ParsableArguments {
    @Flag(help: "Store a value that is not shaped like a Vision One key (a JWT) without asking.")
    var force = false

    /// The key from the prompt or stdin: surrounding whitespace and a leading "Bearer "
    /// stripped (with a note), then its shape checked — confirmed at a terminal, refused
    /// without --force off one.
    func read(prompt: String = "Paste the Vision One API key (input hidden): ") throws -> SecureBytes {
        var stripped: [String] = []
        let token = try SecretInput.readToken(prompt: prompt, stripped: &stripped)
        if !stripped.isEmpty { Output.note("note: stripped \(stripped.joined(separator: " and ")) from the key") }
        guard !force, !TokenInput.looksLikeKey(token) else { return token }
        guard Terminal.stdinIsTerminal else { throw VaultError.notShapedLikeKey }
        Output.warn("\(VaultError.notShapedLikeKey)")
        guard try Terminal.open().confirm("Store it anyway?") else { throw VaultError.cancelled(reason: "nothing was stored") }
        return token
    }
}
