import ArgumentParser
import Foundation
import VaultCore
import VaultFormat

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
