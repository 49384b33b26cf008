import ArgumentParser
import Foundation
import VaultCore
import VaultFormat

struct KDFBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "benchmark", abstract: "Time candidate Argon2id settings on this machine (no vault needed).")

    @Option(name: .customLong("kdf-memory"), help: ArgumentHelp("Only this memory size (default: 64M, 256M and 1G).", valueName: "size"))
    var memory: String?
    @Option(name: .customLong("max-ops"), help: ArgumentHelp("Measure ops 1 through N.", valueName: "n")) var maxOps: UInt64 = 4
    @Flag(help: "One JSON array, one object per setting: algorithm, memory (bytes), ops, milliseconds, note.") var json = false

    func run() throws {
        var sizes: [UInt64] = [64 << 20, 256 << 20, 1 << 30]
        if let memory { sizes = [try ByteSize.parse(memory)] }
        guard (1...16).contains(maxOps) else { throw ValidationError("--max-ops must be between 1 and 16") }
        if !json { Output.line("MEMORY  OPS  TIME     NOTE") }
        var rows: [JSONValue] = []
        for m in sizes {
            for ops in 1...maxOps {
                let p = KDFParameters(opsLimit: ops, memLimit: m)
                do { try p.validate() } catch { continue }
                let ms = try KDFCalibration.measure(p)
                let note = p == .moderate ? "libsodium MODERATE (default)" : p == .interactive ? "libsodium INTERACTIVE" : ""
                if json {
                    rows.append(kdfJSON(p, adding: [("milliseconds", .int(Int(ms.rounded()))), ("note", note.isEmpty ? .null : .string(note))]))
                    continue
                }
                Output.line("\(ByteSize.format(m).padded(to: 6))  \(String(ops).padded(to: 3))  \(String(format: "%6.0fms", ms))  \(note)")
            }
        }
        if json { Output.line(JSONValue.array(rows).text) }
    }
}
