import Foundation
import VaultFormat

/// What `vault renew` is asked to do.
public struct RenewRequest: Sendable {
    /// Renew these tokens whatever their expiry…
    public var names: [String] = []
    /// …or every linked token that is due within this window (see `RenewalPlanner.isDue`).
    public var due: DurationSpec?
    /// The new keys' lifetime (nil: the current version's), mapped onto the console's months.
    public var expires: DurationSpec?
    public var neverExpires = false
    /// The role the new keys get (named tokens only): instead of the one the vault stores,
    /// which becomes this one once the renewal is done.
    public var role: String?
    /// Old console keys stay enabled this long after their replacement became current, so
    /// consumers that pick keys up on their own schedule (an exported file, another host, a
    /// daily job) can switch; then a run disables them. 0 disables at once.
    public var disableAfter: TimeInterval = 86400
    /// Disabled old console keys are deleted this long after they were disabled.
    public var deleteAfter: TimeInterval = 7 * 86400
    /// How long to keep trying the connectivity check of a new key (propagation).
    public var verifyTimeout: TimeInterval = 60
    public var dryRun = false
    public var concurrency = 4
    /// Above Vision One's own 60 s, so a slow answer comes back as a 504, not a local guess.
    public var requestTimeout: TimeInterval = 75
    /// No job starts after the run has taken this long (a console that answers slowly to
    /// everything); the rest are reported failed for the next run.
    public var runLimit: TimeInterval = 30 * 60
    public init() {}
}

/// What `vault renew` did (or, with --dry-run, would do).
public struct RenewReport: Sendable {
    public struct Item: Sendable, Equatable {
        public enum Kind: String, Sendable {
            case renewed, failed, plan, orphanRemoved = "orphan-removed", disabledOld = "disabled-old", deletedOld = "deleted-old", notDue = "not-due"
            /// Left alone on purpose (a key enabled again in the console, a create still
            /// unresolved, a key that may be in use).
            case skipped
            /// An old key kept enabled for consumers until `disableAfter`.
            case grace
        }
        public var kind: Kind
        public var name: String?
        public var fromVersion: Int?
        public var toVersion: Int?
        public var consoleName: String?
        public var consoleID: String?
        public var expires: Date?
        /// When a run will disable the old console key (renewed, grace).
        public var oldKeyDisableAfter: Date?
        /// What happened, or what went wrong and where things were left.
        public var message: String
        /// Things to do by hand that v1vault cannot (an IP allow-list to copy).
        public var notes: [String] = []
        /// The renewal steps this item went through (tests and --json).
        public var steps: [RenewalStep] = []

        public init(kind: Kind, name: String? = nil, fromVersion: Int? = nil, toVersion: Int? = nil, consoleName: String? = nil,
                    consoleID: String? = nil, expires: Date? = nil, message: String) {
            self.kind = kind; self.name = name; self.fromVersion = fromVersion; self.toVersion = toVersion
            self.consoleName = consoleName; self.consoleID = consoleID; self.expires = expires; self.message = message
        }
    }
    public var items: [Item] = []
    public var failed: Bool { items.contains { $0.kind == .failed } }
    /// Nothing renewed, cleaned or planned, nothing failed (old keys waiting out their grace
    /// period and keys left alone on purpose are not work).
    public var nothingDone: Bool { items.allSatisfy { $0.kind == .notDue || $0.kind == .grace || $0.kind == .skipped } }
}

/// The names `renew` gives new console keys: `<stem>-v1v<YYYYMMDD>-<8 hex>`, unique in the
/// organisation with overwhelming probability, and recognisable by `sync`.
public enum ConsoleNaming {
    public static func planned(from current: String, now: Date) -> String {
        var stem = current
        if let r = stem.range(of: #"-v1v[0-9]{8}-[0-9a-f]{4}([0-9a-f]{4})?$"#, options: .regularExpression) { stem = String(stem[..<r.lowerBound]) }
        stem = String(stem.prefix(48))
        let day = Timestamp.day(now).replacingOccurrences(of: "-", with: "")
        let hex = Sodium.randomBytes(4).map { String(format: "%02x", $0) }.joined()
        return "\(stem)-v1v\(day)-\(hex)"
    }

    /// The console's `monthsToExpiration` (1, 3, 6, 12; 0 = never) nearest a lifetime.
    public static func months(lifetime: TimeInterval?) -> Int {
        guard let lifetime else { return 0 }
        let days = lifetime / 86400
        switch days {
        case ..<60: return 1
        case ..<135: return 3
        case ..<270: return 6
        default: return 12
        }
    }
}

/// One piece of work of a `renew` run.
enum RenewalJob {
    /// An intent an earlier run left: find the key it may have created. `verifyOnly`: never
    /// disable or delete what it finds (the vault was restored from a copy taken meanwhile).
    case resolveIntent(RenewalIntent, verifyOnly: Bool)
    /// A staged version an interrupted run left: verify it and finish.
    case resume(LinkedToken)
    case disableOld(LinkedToken, VersionSnapshot)
    case deleteOld(LinkedToken, VersionSnapshot)
    case renew(LinkedToken)

    var baseURL: String {
        switch self {
        case .resolveIntent(let i, _): return i.baseURL
        case .resume(let t), .disableOld(let t, _), .deleteOld(let t, _), .renew(let t): return t.baseURL
        }
    }

    var tokenName: String? {
        switch self {
        case .resolveIntent: return nil
        case .resume(let t), .disableOld(let t, _), .deleteOld(let t, _), .renew(let t): return t.name
        }
    }

    /// The manager renews last, so the others use its old value while it is certainly enabled.
    var renewsManager: Bool {
        if case .renew(let t) = self { return t.manager }
        return false
    }
}

/// What the audit log (verified) says that the vault rows do not: read once per run.
struct RenewalFacts: Sendable, Equatable {
    struct VersionKey: Hashable, Sendable { var name: String; var version: Int }
    /// When `renew` disabled a version's console key (`disabled-old`, `verify-failed`, `superseded`).
    var disabledAt: [VersionKey: Date] = [:]
    /// Console keys the console refused to change (`console-edit-refused`): reported once.
    var editRefused: Set<String> = []
    /// Intents a `vault restore` made verify-only.
    var verifyOnlyIntents: Set<Int64> = []
    /// Per intent id, the months its create asked for (`console-create` rows).
    var intentMonths: [Int64: Int] = [:]
    /// Per intent id, the grace period (seconds) of the run that made it.
    var intentDisableAfter: [Int64: TimeInterval] = [:]
}

/// The pure half of `renew`: from the authenticated tokens, the intents and the audit facts,
/// what to do now. No I/O, no clock of its own.
enum RenewalPlanner {
    /// How long before expiry a key is renewed: a fifteenth of its lifetime, at least 2 days,
    /// at most `window`.
    ///
    /// Why not the third the warnings use: a renewal replaces the key with one of the same
    /// lifetime, so the margin sets how often a key is replaced — with a third, a one-month key
    /// would be replaced every 20 days (18 keys a year for a 12-month need, each a change for
    /// every consumer and a key to clean up). A fifteenth keeps renewals at the key's own
    /// cadence, whatever day of its life the timer first meets it: 12 ± 1, 4 ± 1, 2 ± 1 and
    /// 1 ± 1 a year for 1-, 3-, 6- and 12-month keys (docs/RELIABILITY.md simulates a year; with
    /// a tenth a 1-month key met just before its margin is renewed 14 times). It still leaves 2
    /// daily runs for a 1-month key, 6 for 3 months, 12 for 6 and 24 for a year — each failed
    /// run exits 25 and says why. The 2-day floor covers a key stored late in its life (its
    /// lifetime here is what was left of it when it was stored).
    static func margin(lifetime: TimeInterval, window: TimeInterval) -> TimeInterval {
        min(window, max(max(lifetime, 0) / 15, 2 * 86400))
    }

    /// Whether a version is due within `window` at `now`: its remaining life is under the
    /// margin of its lifetime (created here → expires). A key that never expires never is.
    static func isDue(_ v: VersionSnapshot, window: DurationSpec, now: Date) -> Bool {
        guard let expires = v.expires else { return false }
        let lifetime = max(expires.timeIntervalSince(v.created), 86400)
        return expires.timeIntervalSince(now) <= margin(lifetime: lifetime, window: window.added(to: now).timeIntervalSince(now))
    }

    struct Plan {
        var jobs: [RenewalJob] = []
        /// Items known without any call: not due, not linked, unauthentic intents, grace.
        var items: [RenewReport.Item] = []
    }

    static func plan(tokens: [LinkedToken], intents: [RenewalIntent], request: RenewRequest, facts: RenewalFacts, now: Date) -> Plan {
        var plan = Plan()
        for intent in intents {
            guard intent.authentic else {
                plan.items.append(.init(kind: .failed, message: "renewal intent \(intent.id) failed authentication: left untouched (the file was modified); \(Shell.command("vault", "renew", "--forget-intent", "\(intent.id)")) resolves it"))
                continue
            }
            plan.jobs.append(.resolveIntent(intent, verifyOnly: facts.verifyOnlyIntents.contains(intent.id)))
        }
        // A console key that a current or staged version is (after a rollback, two versions may
        // link one key) is never disabled or deleted as an old one.
        let inUse = Set(tokens.flatMap { t in [t.current.console.id, t.staged?.console.id].compactMap { $0 } })
        for t in tokens {
            if t.staged != nil { plan.jobs.append(.resume(t)) }
            for v in t.versions where v.retired != nil && v.version != t.staged?.version {
                guard let id = v.console.id, !inUse.contains(id) else { continue }
                if v.console.state == .enabled {
                    if facts.editRefused.contains(id) { continue }    // reported once, when it was refused
                    let at = v.retired!.addingTimeInterval(request.disableAfter)
                    if at <= now {
                        plan.jobs.append(.disableOld(t, v))
                    } else {
                        var item = RenewReport.Item(kind: .grace, name: t.name, fromVersion: v.version, consoleName: v.console.name, consoleID: id,
                                                    message: "the old key \(v.console.name ?? id) of version \(v.version) stays enabled for consumers until \(Timestamp.iso(at)); the first run after that disables it")
                        item.oldKeyDisableAfter = at
                        plan.items.append(item)
                    }
                } else if v.console.state == .disabled {
                    // Only with the (verified) audit row that says when it was disabled: without
                    // one — a chain that does not verify, rows cut — the key is never deleted
                    // early; it stays disabled.
                    if let disabled = facts.disabledAt[.init(name: t.name, version: v.version)],
                       disabled.addingTimeInterval(request.deleteAfter) <= now { plan.jobs.append(.deleteOld(t, v)) }
                }
            }
            let selected: Bool
            if !request.names.isEmpty { selected = request.names.contains(t.name) }
            else if let due = request.due { selected = isDue(t.current, window: due, now: now) }
            else { selected = false }
            guard selected, t.staged == nil else {
                if request.names.isEmpty, request.due != nil, t.current.console.id != nil, t.staged == nil {
                    plan.items.append(.init(kind: .notDue, name: t.name, fromVersion: t.current.version, expires: t.current.expires, message: "not due"))
                }
                continue
            }
            guard t.current.console.id != nil else {
                plan.items.append(.init(kind: .failed, name: t.name, fromVersion: t.current.version,
                                        message: "not linked to a console key: link it with \(Shell.command("vault", "edit", t.name, "--console-id", "ID", "--console-name", "NAME", "--role", "ROLE")) or `vault sync --apply`"))
                continue
            }
            plan.jobs.append(.renew(t))
        }
        return plan
    }

    /// The console months for a renewal of `t` (the current lifetime unless asked otherwise).
    static func months(_ t: LinkedToken, _ request: RenewRequest, now: Date) -> Int {
        if request.neverExpires { return 0 }
        if let e = request.expires { return ConsoleNaming.months(lifetime: e.added(to: now).timeIntervalSince(now)) }
        return ConsoleNaming.months(lifetime: t.current.expires.map { $0.timeIntervalSince(t.current.created) })
    }
}
