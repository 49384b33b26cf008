import CSodium
import Foundation

/// Measures Argon2id on this machine and picks parameters for a target unlock time.
///
/// KeePassXC times one run and scales iterations linearly. Argon2 time is closer to
/// `fixed + perPass × ops`, with a large fixed part (allocating and faulting in the memory) at
/// high memory, so one-trial scaling overshoots. This starts the same way, then takes secant
/// steps through the two latest measurements until one lands within ±15% (at most 4 more runs),
/// and keeps the closest.
public enum KDFCalibration {
    public struct Result: Sendable, Equatable {
        public var parameters: KDFParameters
        public var targetMilliseconds: Int64
        public var measuredMilliseconds: Double
        /// (measured − target) / target.
        public var deviation: Double { (measuredMilliseconds - Double(targetMilliseconds)) / Double(targetMilliseconds) }
        public var withinTolerance: Bool { abs(deviation) <= 0.15 }
        /// Set when even one pass at this memory is slower than the target.
        public var memoryTooLarge: Bool
        public var trials: [(ops: UInt64, milliseconds: Double)]

        public static func == (a: Result, b: Result) -> Bool {
            a.parameters == b.parameters && a.targetMilliseconds == b.targetMilliseconds && a.measuredMilliseconds == b.measuredMilliseconds
        }
    }

    /// Wall-clock milliseconds of one `crypto_pwhash` at these parameters (random passphrase and salt).
    public static func measure(_ p: KDFParameters) throws(VaultError) -> Double {
        try p.validate()
        let pass = SecureBytes(capacity: 16)
        let salt = Sodium.randomBytes(KDF.saltBytes)
        let start = DispatchTime.now().uptimeNanoseconds
        _ = try KDF.deriveKEK(passphrase: pass, salt: salt, parameters: p)
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1_000_000
    }

    /// Parameters at `memory` whose unlock takes about `targetMilliseconds` here.
    public static func calibrate(targetMilliseconds: Int64, memory: UInt64,
                                 measure: (KDFParameters) throws(VaultError) -> Double = { p throws(VaultError) in try measure(p) }) throws(VaultError) -> Result {
        guard targetMilliseconds >= 10, targetMilliseconds <= 60_000 else {
            throw .invalidInput(reason: "--kdf-time must be between 10ms and 60s", hint: nil)
        }
        let maxOps = min(KDFParameters.maxOps, KDFParameters.maxWork / max(memory, 1))
        guard maxOps >= 1 else { throw .invalidInput(reason: "--kdf-memory \(ByteSize.format(memory)) is too large", hint: nil) }
        let target = Double(targetMilliseconds)
        var trials: [(ops: UInt64, milliseconds: Double)] = []
        func run(_ ops: UInt64) throws(VaultError) -> Double {
            let t = try measure(KDFParameters(opsLimit: ops, memLimit: memory))
            trials.append((ops, t))
            return t
        }
        let t1 = try run(1)
        if t1 >= target * 0.85 || maxOps == 1 {
            return Result(parameters: KDFParameters(opsLimit: 1, memLimit: memory), targetMilliseconds: targetMilliseconds,
                          measuredMilliseconds: t1, memoryTooLarge: t1 > target * 1.15, trials: trials)
        }
        func clamp(_ x: Double) -> UInt64 {
            guard x.isFinite else { return x > 0 ? maxOps : 1 }
            return UInt64(min(max(x.rounded(), 1), Double(maxOps)))
        }
        var prev = (ops: UInt64(1), ms: t1)
        // At least two points are needed for a slope; t1 < 85% of the target, so ops 2 is no overshoot.
        var ops = max(clamp(target / t1), min(2, maxOps))
        var measured = try run(ops)
        var best = (ops: ops, ms: measured)
        var steps = 0
        while abs(measured - target) / target > 0.15 && steps < 4 {
            steps += 1
            guard ops != prev.ops else { break }
            let perPass = max((measured - prev.ms) / Double(Int64(ops) - Int64(prev.ops)), 0.01)
            let next = clamp(Double(ops) + (target - measured) / perPass)
            guard next != ops, next != prev.ops else { break }
            prev = (ops, measured)
            ops = next
            measured = try run(ops)
            if abs(measured - target) < abs(best.ms - target) { best = (ops, measured) }
        }
        ops = best.ops
        measured = best.ms
        return Result(parameters: KDFParameters(opsLimit: ops, memLimit: memory), targetMilliseconds: targetMilliseconds,
                      measuredMilliseconds: measured, memoryTooLarge: false, trials: trials)
    }

    /// `500ms`, `1s`, `2.5s` → milliseconds.
    public static func parseTime(_ text: String) throws(VaultError) -> Int64 {
        try TimeSpan.milliseconds(text, flag: "time")
    }
}
