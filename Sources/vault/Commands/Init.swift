import ArgumentParser
import Foundation
import VaultCore
import VaultFormat
import VaultStorage

struct KDFOptions: ParsableArguments {
    @Option(name: .customLong("kdf-memory"), help: ArgumentHelp("Argon2id memory, e.g. 64M, 256M, 1G (default 256M).", valueName: "size"))
    var memory: String?

    @Option(name: .customLong("kdf-ops"), help: ArgumentHelp("Argon2id passes (default 3).", valueName: "n"))
    var ops: UInt64?

    @Option(name: .customLong("kdf-time"), help: ArgumentHelp("Calibrate: pick the passes that make an unlock take this long here (e.g. 1s, 500ms), at --kdf-memory (default 256M).", valueName: "time"))
    var time: String?

    func validate() throws {
        if time != nil && ops != nil { throw ValidationError("--kdf-time picks the ops itself; drop --kdf-ops") }
    }

    /// The parameters to use (calibrated when --kdf-time is given) and the stored target.
    /// Missing values come from `current` (default: libsodium MODERATE).
    func resolve(current: KDFParameters = .moderate) throws -> (KDFParameters, Int64?) {
        if let time {
            let target = try KDFCalibration.parseTime(time)
            let memoryLimit = try memory.map { try ByteSize.parse($0) } ?? current.memLimit
            Output.note("calibrating Argon2id at \(ByteSize.format(memoryLimit)) for \(target) ms…")
            let r = try KDFCalibration.calibrate(targetMilliseconds: target, memory: memoryLimit)
            let trials = r.trials.map { "ops \($0.ops): \(Int($0.milliseconds.rounded())) ms" }.joined(separator: ", ")
            Output.note("measured \(trials); picked ops \(r.parameters.opsLimit): \(Int(r.measuredMilliseconds.rounded())) ms, " +
                        String(format: "%+.0f%%", r.deviation * 100) + " from the target" + (r.withinTolerance ? " (within ±15%)" : ""))
            if r.memoryTooLarge {
                Output.warn("one pass at \(ByteSize.format(memoryLimit)) already takes \(Int(r.measuredMilliseconds)) ms; lower --kdf-memory to reach \(target) ms")
            } else if !r.withinTolerance {
                Output.warn("could not land within ±15% of \(target) ms (the machine may be busy); using the closest measurement")
            }
            KDFOptions.warnIfWeak(r.parameters)
            return (r.parameters, target)
        }
        var p = current
        if let m = memory { p.memLimit = try ByteSize.parse(m) }
        if let o = ops { p.opsLimit = o }
        do { try p.validate() } catch {
            if case .unsafeKDFParameters(let reason) = error {
                throw VaultError.invalidInput(reason: "KDF parameters out of bounds: \(reason)", hint: "memory 8K...4G, ops 1...256, ops × memory ≤ 16G")
            }
            throw error
        }
        KDFOptions.warnIfWeak(p)
        return (p, nil)
    }

    static func warnIfWeak(_ p: KDFParameters) {
        if p.isBelowInteractive {
            Output.warn("KDF parameters (\(ByteSize.format(p.memLimit)), ops \(p.opsLimit)) are below libsodium's INTERACTIVE preset (64M, ops 2): fine for tests, weak for a real vault")
        }
    }
}

struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create a new vault.",
        discussion: "Asks for the passphrase twice on a terminal. Never overwrites an existing file.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var kdf: KDFOptions
    @Flag(help: "One JSON object: vault, kdf (algorithm, memory, ops).") var json = false

    func run() throws {
        let path = global.resolvedPath
        if global.isDefaultPath {
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        if FileManager.default.fileExists(atPath: path) { throw VaultError.vaultExists(path: path) }
        try VaultStore.checkCreatable(path)
        let (params, target) = try kdf.resolve()
        let source = global.passphraseSource
        let passphrase = try source.read(prompt: "New vault passphrase: ", confirm: true)
        // At a terminal a weak passphrase was confirmed; from a file, fd or variable, say so.
        if source != .terminal, let weak = Passphrase.weakness(passphrase) {
            Output.warn("this passphrase is weak (\(weak)); the vault is only as safe as it is")
        }
        _ = try Vault.create(at: path, passphrase: passphrase, parameters: params, targetMilliseconds: target, warnDays: try global.warnDays())
        if json { return Output.result([("vault", .string(path)), ("kdf", kdfJSON(params))]) }
        Output.done("created vault \(path) (argon2id, memory \(ByteSize.format(params.memLimit)), ops \(params.opsLimit))")
        Output.note("""
            next: `vault add NAME` stores a key the moment the console shows it (Administration > API Keys)
            keep the passphrase safe: it cannot be recovered, and nothing in the vault opens without it
            back the vault up (`vault backup PATH`) and keep the copy as safely as the passphrase
            """)
    }
}
