import Foundation
#if canImport(Glibc)
import Glibc
#endif
import VaultFormat
import VaultStorage

/// Who is acting: recorded on every audit row.
public struct AuditActor: Sendable, Equatable {
    public var user: String
    public var uid: Int64
    public var host: String
    public var pid: Int64

    public init(user: String, uid: Int64, host: String, pid: Int64) {
        self.user = user; self.uid = uid; self.host = host; self.pid = pid
    }

    /// The current OS user, uid, host name and pid.
    public static var current: AuditActor {
        let uid = getuid()
        var user = "uid\(uid)"
        if let pw = getpwuid(uid), let name = pw.pointee.pw_name { user = String(validatingCString: name) ?? user }
        var buf = [CChar](repeating: 0, count: 256)
        let host = gethostname(&buf, 255) == 0 ? buf.withUnsafeBufferPointer { String(cString: $0.baseAddress!) } : "unknown"
        return AuditActor(user: user, uid: Int64(uid), host: host, pid: Int64(getpid()))
    }
}

/// A token name and version named by an audit row.
public struct AuditSubject: Codable, Equatable, Sendable {
    public var name: String
    public var version: Int?
    public init(name: String, version: Int? = nil) { self.name = name; self.version = version }
}

/// One audit log entry as shown to users.
public struct AuditEntry: Codable, Equatable, Sendable {
    public var seq: Int64
    public var at: String
    public var action: String
    public var tokens: [AuditSubject]
    public var outcome: String
    public var reason: String?
    public var details: [String: String]
    public var user: String
    public var uid: Int64
    public var host: String
    public var pid: Int64
    /// Whether the row is sealed into the MAC chain yet.
    public var sealed: Bool
}

/// The outcome of walking the audit chain.
public struct AuditVerification: Equatable, Sendable {
    public enum Problem: Equatable, Sendable {
        /// Row `seq`'s MAC does not match its contents and predecessor: edited, forged,
        /// reordered, or the row before it was removed.
        case macMismatch(seq: Int64)
        /// Rows between two surviving rows are missing.
        case rowsMissing(after: Int64, before: Int64)
        /// An unsealed row sits before sealed rows, which the writer never produces.
        case unsealedInsideChain(seq: Int64)
        /// The expected head row is missing: the log was truncated or the file rolled back.
        case headMissing(expected: Int64, last: Int64?)
        /// The expected head row exists with another MAC: the file was replaced or rolled back.
        case headMismatch(seq: Int64)
        /// A column holds a value of another storage class than the schema declares (a blob
        /// "rotate" reads as the same text but never matches it in SQL).
        case wrongType(seq: Int64, detail: String)
    }

    public var sealedRows: Int
    public var pendingRows: Int
    public var head: AuditHead?
    public var problem: Problem?
    /// For each token, the newest sealed, successful row that changed its versions (name →
    /// seq), among the rows walked: the freshness check's input.
    var changes: [String: Int64] = [:]
    /// The newest sealed, successful row that changed the sharing rows (it carries
    /// `"sharing":"sealed"`), among the rows walked: the sharing state's freshness check.
    var sharingChange: Int64?
    public var intact: Bool { problem == nil }
}

extension AuditVerification.Problem: CustomStringConvertible {
    public var description: String {
        switch self {
        case .macMismatch(let s): return "audit row \(s) does not verify: it, or the row before it, was edited, inserted, reordered or deleted"
        case .rowsMissing(let a, let b): return b - a == 2 ? "audit row \(a + 1) was deleted" : "audit rows \(a + 1)...\(b - 1) were deleted"
        case .unsealedInsideChain(let s): return "audit row \(s) is unsealed but later rows are sealed: it was inserted or its MAC removed"
        case .headMissing(let e, let last):
            return "audit row \(e) (the expected head) is missing; the log ends at \(last.map(String.init) ?? "nothing"): truncated or rolled back"
        case .headMismatch(let s): return "audit row \(s) differs from the expected head: the log was rolled back or replaced"
        case .wrongType(let s, let d): return "audit row \(s) was edited outside v1vault: \(d)"
        }
    }
}

/// An audit key of an earlier master key (before a `vault rekey`) and the rows it sealed.
final class AuditKeyEpoch {
    let first: Int64
    let last: Int64
    let key: SecureBytes
    init(first: Int64, last: Int64, key: consuming SecureBytes) { self.first = first; self.last = last; self.key = key }
}

/// The audit chain: canonical row encoding and MAC computation (SECURITY.md, "Audit chain").
enum AuditChain {
    static let domain = Array("v1vault-audit-v1".utf8)
    static let genesis = [UInt8](repeating: 0, count: 32)

    /// The canonical encoding of a row (every column but `mac`), fixed-width integers
    /// big-endian, strings as u32 length + UTF-8, nullable strings behind a presence byte.
    static func encode(_ r: AuditRecord) -> [UInt8] {
        var out: [UInt8] = []
        func u64(_ v: Int64) { withUnsafeBytes(of: UInt64(bitPattern: v).bigEndian) { out += $0 } }
        func str(_ s: String) {
            let b = Array(s.utf8)
            withUnsafeBytes(of: UInt32(b.count).bigEndian) { out += $0 }
            out += b
        }
        u64(r.seq ?? 0)
        str(r.at); str(r.action); str(r.tokens); str(r.outcome)
        if let reason = r.reason { out.append(1); str(reason) } else { out.append(0) }
        str(r.details); str(r.osUser); u64(r.uid); str(r.host); u64(r.pid)
        return out
    }

    static func mac(key: borrowing SecureBytes, previous: [UInt8], row: AuditRecord) -> [UInt8] {
        KeyedHash.mac(key: key, parts: [domain, previous, encode(row)])
    }

    /// Seals every unsealed row, in order, continuing from the last sealed row. Runs inside the
    /// caller's write transaction.
    /// The actions of commands that never unlock, whose rows stay pending until the next
    /// unlocked write (and a failed unlock's own row).
    static let mayBePending: Set<String> = ["list", "show", "history", "expiring", "audit", "backup", "doctor", "exec", "unlock", "lock"]

    /// Whether v1vault itself could have left `row` pending: an action of `mayBePending`,
    /// without the "state":"sealed" marker; an `unlock` only when it failed (a session start
    /// is always written sealed); a `lock` only of a session that no longer opened the vault
    /// (it carries `stale`; a live session's lock is sealed).
    static func mayStayPending(_ row: AuditRecord) -> Bool {
        guard mayBePending.contains(row.action), !hasMarker(row.details, #""state":"sealed""#),
              !hasMarker(row.details, SharingState.marker) else { return false }
        switch row.action {
        case "unlock": return row.outcome == "error" && row.tokens == "[]" && detailsShape(row, ["session": "start"], required: [])
        case "lock": return row.outcome == "ok" && row.tokens == "[]" && detailsShape(row, ["session": "end", "stale": nil], required: ["session", "stale"])
        default: return true
        }
    }

    /// The row's details are a JSON object of strings with only the `allowed` keys (a non-nil
    /// value: that exact value), and all of `required`: the exact shape v1vault writes.
    static func detailsShape(_ row: AuditRecord, _ allowed: [String: String?], required: Set<String>) -> Bool {
        guard let object = try? JSONSerialization.jsonObject(with: Data(row.details.utf8)) as? [String: Any] else { return false }
        for (key, value) in object {
            guard let rule = allowed[key], let text = value as? String else { return false }
            if let exact = rule, exact != text { return false }
        }
        return required.isSubset(of: Set(object.keys))
    }

    /// Whether `details` holds `marker`, compared as bytes, as SQLite's `instr` does (`String.contains`
    /// compares characters: a marker followed by a combining mark would not match, red team F).
    static func hasMarker(_ details: String, _ marker: String) -> Bool {
        let d = Array(details.utf8), m = Array(marker.utf8)
        guard !m.isEmpty, d.count >= m.count else { return false }
        for i in 0...(d.count - m.count) where d[i] == m[0] && d[i..<(i + m.count)].elementsEqual(m) { return true }
        return false
    }

    /// `own` is the row this very transaction appended (the only pending row of another kind).
    static func sealPending(_ db: StoreTransaction, key: borrowing SecureBytes, own: Int64? = nil) throws {
        let last = try AuditRecord.lastSealed(db)
        var previous = last?.mac.map(Array.init) ?? genesis
        let pending = try AuditRecord.pending(after: last?.seq ?? 0, db)
        // A vault's `init` row is sealed when the vault is made, so a chain that would start from
        // nothing now means the log was deleted or replaced by forged pending rows: sealing them
        // would give the file a new, "intact" history (red team, schema 7). Only init itself
        // starts a chain.
        if last == nil, !(pending.count == 1 && pending[0].seq == own && pending[0].action == "init") {
            throw VaultError.corruptVault(reason: "the audit log has no sealed row, but v1vault seals the first one at init: "
                                          + "the log was deleted or replaced; nothing was changed (restore from a backup)")
        }
        for row in pending {
            // Pending rows are unauthenticated: anyone who can write the file can add them, or
            // turn sealed rows back into pending ones by clearing their MACs. v1vault itself only
            // leaves rows of commands that never unlock pending; any other pending row (a change,
            // an export, an init, a row carrying the "state":"sealed" marker) is tampering, and
            // sealing it would launder it into the authenticated chain. Refuse, changing nothing.
            if row.seq != own && !Self.mayStayPending(row) {
                throw VaultError.corruptVault(reason: "audit row \(row.seq!) (\(Sanitize.display(row.action))) is not sealed, but v1vault writes such rows sealed: "
                                              + "a sealed row's MAC was removed or the row was forged; nothing was changed (restore from a backup)")
            }
            let m = mac(key: key, previous: previous, row: row)
            try AuditRecord.setMAC(m, seq: row.seq!, db)
            previous = m
        }
    }

    /// Walks all rows in sequence order with the key of each row's epoch (`epochs`, from
    /// earlier master keys; `key` for rows after them) and reports the first problem.
    /// With `from`, walks only the rows after that one, starting from its stored MAC (which the
    /// next row's MAC covers): the freshness check of a token whose state names row `from`.
    static func verify(_ db: StoreTransaction, key: borrowing SecureBytes, epochs: [AuditKeyEpoch] = [], expectHead: AuditHead?,
                       from: Int64 = 0) throws -> AuditVerification {
        var previous = genesis
        var lastSeq: Int64 = 0
        var result = AuditVerification(sealedRows: 0, pendingRows: 0, head: nil, problem: nil)
        if from > 0 {
            guard let start = try AuditRecord.byColumns(seq: from, db), let mac = start.mac else {
                result.problem = .rowsMissing(after: from - 1, before: from + 1)
                return result
            }
            previous = Array(mac)
            lastSeq = from
        }
        var firstPending: Int64?
        var walk = try AuditRecord.walk(after: from, db)
        while let walked = try walk.next() {
            let row: AuditRecord
            switch walked {
            case .row(let decoded): row = decoded
            case .wrongType(let seq, let detail):
                result.problem = .wrongType(seq: seq ?? lastSeq + 1, detail: detail)
                return result
            }
            let seq = row.seq!
            guard let stored = row.mac else {
                if firstPending == nil { firstPending = seq }
                result.pendingRows += 1
                lastSeq = seq
                continue
            }
            if let p = firstPending {
                result.problem = .unsealedInsideChain(seq: p)
                return result
            }
            if seq != lastSeq + 1 {
                result.problem = .rowsMissing(after: lastSeq, before: seq)
                return result
            }
            let expected: [UInt8]
            if let epoch = epochs.first(where: { $0.first <= seq && seq <= $0.last }) {
                expected = mac(key: epoch.key, previous: previous, row: row)
            } else {
                expected = mac(key: key, previous: previous, row: row)
            }
            let ok = expected.withUnsafeBytes { a in stored.withUnsafeBytes { b in Sodium.constantTimeEqual(a, b) } }
            guard ok else {
                result.problem = .macMismatch(seq: seq)
                return result
            }
            if row.outcome == "ok", StateMAC.changingActionNames.contains(row.action) {
                guard let names = StateMAC.names(inTokens: row.tokens) else {
                    result.problem = .wrongType(seq: seq, detail: "its token list is not JSON")
                    return result
                }
                for name in names { result.changes[name] = seq }
            }
            if row.outcome == "ok", hasMarker(row.details, SharingState.marker) { result.sharingChange = seq }
            previous = expected
            lastSeq = seq
            result.sealedRows += 1
            result.head = AuditHead(seq: seq, mac: expected)
            if let h = expectHead, h.seq == seq, h.mac != expected {
                result.problem = .headMismatch(seq: seq)
                return result
            }
        }
        if let h = expectHead, (result.head?.seq ?? 0) < h.seq {
            result.problem = .headMissing(expected: h.seq, last: result.head?.seq)
        }
        return result
    }

    static func entry(_ r: AuditRecord) -> AuditEntry {
        let subjects = (try? JSONDecoder().decode([AuditSubject].self, from: Data(r.tokens.utf8))) ?? []
        let details = (try? JSONDecoder().decode([String: String].self, from: Data(r.details.utf8))) ?? [:]
        return AuditEntry(seq: r.seq ?? 0, at: r.at, action: r.action, tokens: subjects, outcome: r.outcome,
                          reason: r.reason, details: details, user: r.osUser, uid: r.uid, host: r.host,
                          pid: r.pid, sealed: r.mac != nil)
    }

    /// `[{"name":…,"version":…}, …]`, the `tokens` column.
    static func json(_ subjects: [AuditSubject]) -> String {
        "[" + subjects.map { s in
            "{\"name\":" + JSONText.string(s.name) + (s.version.map { ",\"version\":\($0)" } ?? "") + "}"
        }.joined(separator: ",") + "]"
    }

    /// Audit timestamps: ISO 8601 UTC with milliseconds.
    static func timestamp(_ date: Date) -> String { Timestamp.isoMilliseconds(date) }
}

/// A filter for `vault audit`.
public struct AuditQuery: Sendable {
    public var token: String?
    public var action: String?
    public var since: Date?
    public var until: Date?
    public var limit: Int?
    public init(token: String? = nil, action: String? = nil, since: Date? = nil, until: Date? = nil, limit: Int? = nil) {
        self.token = token; self.action = action; self.since = since; self.until = until; self.limit = limit
    }
}

/// Audit action names of the commands that release one key to the user (each row is written
/// sealed, before the key leaves secure memory).
public enum RevealAction {
    /// `show --reveal`.
    public static let reveal = "reveal"
    /// `get`: the key printed on stdout.
    public static let get = "get"
    /// `copy`: the key put on a clipboard (details `via`: the method, `clear`: seconds).
    public static let copy = "copy"
}
