import Foundation
import GRDB

/// What `vault renew` is asked to do.
public struct RenewRequest: Sendable {
    /// Renew these tokens whatever their expiry…
    public var names: [String] = []
    /// …or every linked token whose current version expires within this window.
    public var due: DurationSpec?
    /// The new keys' lifetime (nil: the current version's), mapped onto the console's months.
    public var expires: DurationSpec?
    public var neverExpires = false
    /// Retired console keys disabled this long ago are deleted.
    public var deleteAfter: TimeInterval = 7 * 86400
    /// How long to keep trying the connectivity check of a new key (propagation).
    public var verifyTimeout: TimeInterval = 60
    public var dryRun = false
    public var concurrency = 4
    public var requestTimeout: TimeInterval = 30
    public init() {}
}

/// What `vault renew` did (or, with --dry-run, would do).
public struct RenewReport: Sendable {
    public struct Item: Sendable, Equatable {
        public enum Kind: String, Sendable {
            case renewed, failed, plan, orphanRemoved = "orphan-removed", disabledOld = "disabled-old", deletedOld = "deleted-old", notDue = "not-due"
            /// Left alone on purpose (a key enabled again in the console, a create still unresolved).
            case skipped
        }
        public var kind: Kind
        public var name: String?
        public var fromVersion: Int?
        public var toVersion: Int?
        public var consoleName: String?
        public var consoleID: String?
        public var expires: Date?
        /// What happened, or what went wrong and where things were left.
        public var message: String
    }
    public var items: [Item] = []
    public var failed: Bool { items.contains { $0.kind == .failed } }
    /// Nothing renewed, cleaned or planned, nothing failed.
    public var nothingDone: Bool { items.allSatisfy { $0.kind == .notDue } }
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

extension UnlockedVault {
    /// Debug builds only: `V1VAULT_DEBUG_KILL_AT=point` makes the process SIGKILL itself at that
    /// step of `renew` (the crash trials). Compiled out of release builds.
    func crashPoint(_ point: String) {
        #if DEBUG
        if let at = ProcessInfo.processInfo.environment["V1VAULT_DEBUG_KILL_AT"], at == point { kill(getpid(), SIGKILL) }
        #endif
    }

    /// Runs `vault renew`: first the leftovers of earlier runs (intents, staged versions, old
    /// keys to disable or delete), then the renewals asked for. Never throws for one token's
    /// failure: it is an item of the report. Throws only when nothing can start (no vault lock,
    /// no manager for a base URL that has work, tampered state).
    public func renew(_ request: RenewRequest) throws(VaultError) -> RenewReport {
        let lock = try vault.store.exclusiveRunLock()
        defer { _ = lock }
        let (tokens, broken) = try linkedTokens()
        let stored = try intents()
        let intents = stored + (try intentsOnlyInAudit(besides: Set(stored.map(\.id))))
        var report = RenewReport()
        for (name, error) in broken where request.names.isEmpty || request.names.contains(name) {
            report.items.append(.init(kind: .failed, name: name, message: error.description))
        }
        for name in request.names where !tokens.contains(where: { $0.name == name }) && !broken.contains(where: { $0.0 == name }) {
            throw VaultError.tokenNotFound(name: name)
        }

        // The work, per token or intent.
        enum Job { case orphan(RenewalIntent), resume(LinkedToken), disableOld(LinkedToken, VersionSnapshot), deleteOld(LinkedToken, VersionSnapshot), renew(LinkedToken) }
        var jobs: [Job] = []
        let nowDate = now
        for intent in intents {
            guard intent.authentic else {
                report.items.append(.init(kind: .failed, message: "renewal intent \(intent.id) failed authentication: left untouched (the file was modified); `vault renew --forget-intent \(intent.id)` resolves it"))
                continue
            }
            jobs.append(.orphan(intent))
        }
        let horizon = request.due.map { $0.added(to: nowDate) }
        // A console key that a current or staged version is (after a rollback, two versions may
        // link one key) is never disabled or deleted as an old one.
        let inUse = Set(tokens.flatMap { t in [t.current.console.id, t.staged?.console.id].compactMap { $0 } })
        for t in tokens {
            if t.staged != nil { jobs.append(.resume(t)) }
            for v in t.versions where v.retired != nil && v.version != t.staged?.version && v.console.id != nil && !inUse.contains(v.console.id!) {
                if v.console.state == .enabled { jobs.append(.disableOld(t, v)) }
                else if v.console.state == .disabled, let retired = v.retired, retired.addingTimeInterval(request.deleteAfter) <= nowDate {
                    jobs.append(.deleteOld(t, v))
                }
            }
            let selected: Bool
            if !request.names.isEmpty { selected = request.names.contains(t.name) }
            else if let horizon { selected = t.current.expires.map { $0 <= horizon } ?? false }
            else { selected = false }
            guard selected, t.staged == nil else { continue }
            guard t.current.console.id != nil else {
                report.items.append(.init(kind: .failed, name: t.name, fromVersion: t.current.version,
                                          message: "not linked to a console key: link it with `vault edit \(t.name) --console-id ID --console-name NAME --role ROLE` or `vault sync --apply`"))
                continue
            }
            jobs.append(.renew(t))
        }
        if request.names.isEmpty, let horizon {
            for t in tokens where t.current.console.id != nil && !(t.current.expires.map { $0 <= horizon } ?? false) {
                report.items.append(.init(kind: .notDue, name: t.name, fromVersion: t.current.version, expires: t.current.expires, message: "not due"))
            }
        }
        if jobs.isEmpty { return report }

        // One manager per base URL with work; revealed once, audited as manager-use.
        func baseURL(_ job: Job) -> String {
            switch job {
            case .orphan(let i): return i.baseURL
            case .resume(let t), .disableOld(let t, _), .deleteOld(let t, _), .renew(let t): return t.baseURL
            }
        }
        // Each manager read and authenticated once per run.
        let managerOf = Dictionary(try managers().map { ($0.baseURL, $0) }, uniquingKeysWith: { a, _ in a })
        if request.dryRun {
            for job in jobs {
                let m = managerOf[baseURL(job)]
                let via = m.map { " (manager \($0.name))" } ?? " (no manager key for \(baseURL(job)): would fail)"
                switch job {
                case .orphan(let i): report.items.append(.init(kind: .plan, consoleName: i.plannedName, message: "renewal intent \(i.id): would look for the key a crashed renew may have created, \(i.plannedName), and disable and delete it" + via))
                case .resume(let t): report.items.append(.init(kind: .plan, name: t.name, toVersion: t.staged?.version, message: "would verify staged version \(t.staged!.version) and make it current" + via))
                case .disableOld(let t, let v): report.items.append(.init(kind: .plan, name: t.name, fromVersion: v.version, consoleName: v.console.name, consoleID: v.console.id, message: "would disable the console key of retired version \(v.version)" + via))
                case .deleteOld(let t, let v): report.items.append(.init(kind: .plan, name: t.name, fromVersion: v.version, consoleName: v.console.name, consoleID: v.console.id, message: "would delete the disabled console key of version \(v.version)" + via))
                case .renew(let t):
                    let months = monthsFor(t, request)
                    report.items.append(.init(kind: .plan, name: t.name, fromVersion: t.current.version, toVersion: (t.versions.last?.version ?? 0) + 1,
                                              consoleName: t.current.console.name, consoleID: t.current.console.id, expires: t.current.expires,
                                              message: "would create a key with the role the console gives \(t.current.console.name ?? t.current.console.id!) for \(months == 0 ? "no expiry" : "\(months) month\(months == 1 ? "" : "s")"), verify it, make it current and disable \(t.current.console.name ?? t.current.console.id!)" + via))
                }
            }
            return report
        }

        var managers: [String: (name: String, api: ConsoleAPI, token: RevealedToken)] = [:]
        for url in Set(jobs.map(baseURL)).sorted() {
            do throws(VaultError) {
                guard let m = managerOf[url] else { throw VaultError.noManager(baseURL: url) }
                let token = try reveal(m.name, action: "manager-use", details: ["for": "renew"])
                managers[url] = (m.name, ConsoleAPI(baseURL: url, manager: token.secret, timeout: request.requestTimeout), token)
            } catch {
                for job in jobs where baseURL(job) == url {
                    var message = error.description
                    if case .orphan(let i) = job {
                        message = "renewal intent \(i.id) (\(i.plannedName)): \(message); once that is sorted out, or to give up on it, `vault renew --forget-intent \(i.id)`"
                    }
                    report.items.append(.init(kind: .failed, name: jobName(job), message: message))
                }
            }
        }
        func jobName(_ job: Job) -> String? {
            switch job {
            case .orphan: return nil
            case .resume(let t), .disableOld(let t, _), .deleteOld(let t, _), .renew(let t): return t.name
            }
        }
        func isManagerJob(_ job: Job) -> Bool {
            if case .renew(let t) = job { return t.manager }
            return false
        }

        final class Shared: @unchecked Sendable {
            let lock = NSLock()
            var items: [RenewReport.Item] = []
            func add(_ i: RenewReport.Item) { lock.withLock { items.append(i) } }
        }
        let shared = Shared()
        let runnable = jobs.filter { managers[baseURL($0)] != nil }
        // The manager renews last, so the others use its old value while it is still enabled.
        let ordinary = runnable.filter { !isManagerJob($0) }, managerJobs = runnable.filter(isManagerJob)
        for batch in [ordinary, managerJobs] where !batch.isEmpty {
            let slots = DispatchSemaphore(value: max(1, min(request.concurrency, 4)))
            let group = DispatchGroup()
            final class Box: @unchecked Sendable { let run: (Int) -> Void; init(_ r: @escaping (Int) -> Void) { run = r } }
            let box = Box { i in
                let job = batch[i]
                let m = managers[baseURL(job)]!
                let item: RenewReport.Item
                switch job {
                case .orphan(let intent): item = self.removeOrphan(intent, api: m.api)
                case .resume(let t): item = self.resumeStaged(t, api: m.api, request: request)
                case .disableOld(let t, let v): item = self.retire(t, v, to: .disabled, api: m.api)
                case .deleteOld(let t, let v): item = self.retire(t, v, to: .deleted, api: m.api)
                case .renew(let t): item = self.renewOne(t, api: m.api, request: request)
                }
                shared.add(item)
            }
            for i in batch.indices {
                slots.wait()
                group.enter()
                DispatchQueue.global().async { box.run(i); slots.signal(); group.leave() }
            }
            group.wait()
        }
        report.items += shared.items.sorted { ($0.name ?? "", $0.kind.rawValue) < ($1.name ?? "", $1.kind.rawValue) }
        return report
    }

    func monthsFor(_ t: LinkedToken, _ request: RenewRequest) -> Int {
        if request.neverExpires { return 0 }
        if let e = request.expires { return ConsoleNaming.months(lifetime: e.added(to: now).timeIntervalSince(now)) }
        return ConsoleNaming.months(lifetime: t.current.expires.map { $0.timeIntervalSince(t.current.created) })
    }

    // MARK: - One renewal

    /// create (after an intent) → seal as a staged version → verify → make current → disable
    /// the old console key. Each step is committed before the next call that depends on it.
    func renewOne(_ t: LinkedToken, api: ConsoleAPI, request: RenewRequest) -> RenewReport.Item {
        var item = RenewReport.Item(kind: .failed, name: t.name, fromVersion: t.current.version, consoleName: t.current.console.name,
                                    consoleID: t.current.console.id, message: "")
        let oldID = t.current.console.id!
        // 1. The console key as it is now: its role and description, and that it still works.
        let old: ConsoleKey
        do { old = try api.get(oldID).key } catch {
            item.message = error.status == 404 ? "its console key \(oldID) no longer exists: the token is dead; create a key and `vault rotate` it in" : "reading its console key failed: \(error); nothing changed"
            return item
        }
        guard old.enabled else {
            item.message = "its console key \(old.name) is disabled in the console: the token is dead; nothing changed"
            return item
        }
        // The id must still name the key this version was linked to: a mistyped or reused id
        // would otherwise copy another key's role and disable that key.
        guard let stored = t.current.console.name else {
            item.message = "the link to console key \(oldID) has no console name to check it by: make sure that key is the one whose value \(t.name) holds, then store the name you gave it in the console (`vault edit \(t.name) --console-name NAME`); nothing changed"
            return item
        }
        guard let mine = t.role else {
            item.message = "\(t.name) has no role in the vault to check the console key by (a new key gets the console key's role): `vault edit \(t.name) --role ROLE` with the role you chose in the console; nothing changed"
            return item
        }
        guard stored == old.name else {
            item.message = "console key \(oldID) is named \(old.name), but the vault linked it as \(stored): if it is the right key, `vault edit \(t.name) --console-name '\(old.name)'`; nothing changed"
            return item
        }
        if let theirs = old.role, mine != theirs {
            item.message = "console key \(old.name) has the role \(theirs), but the vault says \(mine): if it is the right key, `vault edit \(t.name) --role '\(theirs)'`; nothing changed"
            return item
        }
        let role = old.role ?? mine
        // 2. The intent, committed before the create request.
        let planned = ConsoleNaming.planned(from: old.name, now: now)
        let months = monthsFor(t, request)
        let intent: RenewalIntent
        do {
            intent = try perform("console-create", subjects: [AuditSubject(name: t.name)],
                                 details: ["console_name": planned, "months": "\(months)", "role": role, "base_url": t.baseURL]) { w in
                let tokenID = try resolve(w.db, t.name).record.id!
                let intent = try writeIntent(w.db, tokenID: tokenID, plannedName: planned, baseURL: t.baseURL)
                // Ids are never reused unless someone rewound sqlite_sequence: then an old
                // resolution row would make this one look replayed. Refuse before any call.
                if try Bool.fetchOne(w.db, sql: "SELECT EXISTS (SELECT 1 FROM audit_log NOT INDEXED WHERE instr(details, ?) > 0)",
                                     arguments: ["\"intent\":\"\(intent.id)\""]) ?? true {
                    throw VaultError.corruptVault(reason: "renewal intent id \(intent.id) was used before (sqlite_sequence was rewound)")
                }
                w.details["intent"] = "\(intent.id)"
                return intent
            }
        } catch {
            item.message = "could not record the renewal intent: \(error); nothing changed"
            return item
        }
        crashPoint("renew.intent")
        // 3. Create; the value goes from the response into secure memory.
        func createFailed(_ error: ConsoleFailure) -> RenewReport.Item {
            recordFailure("console-create-result", subjects: [AuditSubject(name: t.name)], details: ["console_name": planned, "intent": "\(intent.id)"],
                          error: .consoleFailed(detail: error.description))
            // A definite refusal created nothing: drop the intent, delete nothing (a key with
            // that name may be someone else's). Otherwise look for the key now, and keep the
            // intent while it may still appear.
            let cleanup = error.definite ? dropIntent(intent, why: "the console refused the create") : removeOrphan(intent, api: api)
            var failed = item
            failed.message = "creating \(planned) failed: \(error); the old version stays current (\(cleanup.message))"
            return failed
        }
        let created: ConsoleAPI.Created
        do { created = try api.create(name: planned, role: role, months: months, description: old.description) } catch {
            return createFailed(error)
        }
        crashPoint("renew.created")
        do { try checkCreated(created, t: t, months: months, api: api) } catch { return createFailed(error) }
        // 4. Seal it as a staged version: retired until verified, linked to its console key.
        let expires = months == 0 ? nil : created.expires
        let staged: Int
        do {
            staged = try sealStaged(t.name, value: created.value, link: ConsoleLink(id: created.id, name: planned, state: .enabled),
                                    expires: expires, intent: intent.id)
        } catch {
            // The value is lost with this process: the intent stays, so the orphan is removed
            // by this call or the next run.
            let cleanup = removeOrphan(intent, api: api)
            item.message = "sealing the new key failed: \(error); the old version stays current (\(cleanup.message))"
            return item
        }
        crashPoint("renew.sealed")
        item.toVersion = staged
        item.consoleName = planned
        item.consoleID = created.id
        item.expires = expires
        return finish(t.name, oldVersion: t.current.version, oldLink: t.current.console, staged: staged,
                      value: .single(created.value), api: api, request: request, item: item)
    }

    /// Verify → make current → disable the old key (also the resumption of a staged version).
    func finish(_ name: String, oldVersion: Int, oldLink: ConsoleLink, staged: Int, value: SecretView, api: ConsoleAPI,
                request: RenewRequest, item: RenewReport.Item) -> RenewReport.Item {
        var item = item
        // 5. Verify, with bounded retries while the new key propagates.
        let deadline = Date().addingTimeInterval(request.verifyTimeout)
        var delay = 0.25
        var verified: Result<Void, ConsoleFailure> = .failure(ConsoleFailure(call: "connectivity", host: api.host, network: "not tried"))
        while true {
            verified = value.withUnsafeBytes { api.connectivity($0) }
            if case .success = verified { break }
            if case .failure(let f) = verified, let s = f.status, s != 401, s != 429, !(500...599).contains(s) { break }
            guard Date().addingTimeInterval(delay) < deadline else { break }
            Thread.sleep(forTimeInterval: delay)
            delay = min(delay * 2, 5)
        }
        try? record("renew-verify", subjects: [AuditSubject(name: name, version: staged)],
                    details: ["result": { if case .failure(let f) = verified { return f.description }; return "ok" }()])
        crashPoint("renew.verified")
        if case .failure(let f) = verified {
            // The new key does not work: disable it, keep the old version current.
            let disabled = consoleWrite("disable", name: name, version: staged, id: item.consoleID ?? "", api: api) { () throws(ConsoleFailure) in try api.setStatus(item.consoleID ?? "", enabled: false) }
            if disabled == nil { try? markConsole(name, version: staged, state: .disabled, step: "verify-failed") }
            item.message = "the new key \(item.consoleName ?? "") did not pass the connectivity check (\(f)); version \(oldVersion) stays current; the new key was " + (disabled == nil ? "disabled" : "NOT disabled (\(disabled!)): disable it in the console")
            return item
        }
        // 6. Make it current — only over the version this renewal replaces.
        do { try promote(name, staged: staged, over: oldVersion) } catch {
            if case .stateChanged = error {
                let disabled = consoleWrite("disable", name: name, version: staged, id: item.consoleID ?? "", api: api) { () throws(ConsoleFailure) in try api.setStatus(item.consoleID ?? "", enabled: false) }
                if disabled == nil { try? markConsole(name, version: staged, state: .disabled, step: "superseded") }
                item.message = "\(name) was rotated or rolled back while it renewed: the new key \(item.consoleName ?? "") was " + (disabled == nil ? "disabled" : "NOT disabled (\(disabled!))") + "; the current version stays"
                return item
            }
            item.message = "making version \(staged) current failed: \(error); version \(oldVersion) stays current, `vault renew` resumes"
            return item
        }
        crashPoint("renew.promoted")
        // 7. Disable the old console key (deleted by a later run after --delete-after).
        if let oldID = oldLink.id {
            if let error = consoleWrite("disable", name: name, version: oldVersion, id: oldID, api: api, { () throws(ConsoleFailure) in try api.setStatus(oldID, enabled: false) }) {
                item.kind = .renewed
                item.message = "renewed; disabling the old key failed (\(error)): the next `vault renew` retries"
                return item
            }
            crashPoint("renew.disabled")
            try? markConsole(name, version: oldVersion, state: .disabled, step: "disabled-old")
        }
        item.kind = .renewed
        item.message = "renewed: version \(staged) is current; the old key \(oldLink.name ?? oldLink.id ?? "") is disabled and will be deleted after \(Int(request.deleteAfter / 86400))d"
        return item
    }

    /// A console write audited before it is made (`console-<verb>`) and its outcome after
    /// (`console-<verb>-result`). Returns the failure, nil on success.
    func consoleWrite(_ verb: String, name: String?, version: Int?, id: String, api: ConsoleAPI, _ call: () throws(ConsoleFailure) -> Void) -> ConsoleFailure? {
        let subjects = name.map { [AuditSubject(name: $0, version: version)] } ?? []
        do { try record("console-\(verb)", subjects: subjects, details: ["console_id": id, "base_url": api.baseURL]) } catch {
            return ConsoleFailure(call: verb, host: api.host, network: "audit row not written: \(error)")
        }
        do {
            try call()
            try? record("console-\(verb)-result", subjects: subjects, details: ["console_id": id])
            return nil
        } catch {
            try? record("console-\(verb)-result", subjects: subjects, details: ["console_id": id], error: .consoleFailed(detail: error.description))
            return error
        }
    }

    /// Refuses what a buggy or hostile server may answer to a create: an id some version
    /// already links, a value equal to the manager's or the old one, an expiry far from the
    /// lifetime asked for. Thrown before the value is stored: the key is then removed as an orphan.
    func checkCreated(_ created: borrowing ConsoleAPI.Created, t: LinkedToken, months: Int, api: ConsoleAPI) throws(ConsoleFailure) {
        func refuse(_ why: String) -> ConsoleFailure { ConsoleFailure(call: "create", host: api.host, code: why) }
        // A plain read is enough here: it can only refuse (fail safe), never allow.
        let linked = (try? vault.store.read { db in
            try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM token_versions WHERE console_id = ?)", arguments: [created.id]) ?? true
        }) ?? true
        if linked { throw refuse("the answer names a key this vault already links") }
        let same = created.value.withUnsafeBytes { v in
            api.manager.withUnsafeBytes { m in v.count == m.count && Sodium.constantTimeEqual(v, m) }
        }
        if same { throw refuse("the answer's value is the manager key's") }
        // Nor a value this token already had (the old key, which is about to be disabled).
        let reused: Bool = created.value.withUnsafeBytes { v in
            (try? vault.store.read { db -> Bool in
                let r = try resolve(db, t.name)
                var scratch = SecureBytes(capacity: 4096, empty: true)
                for state in try VersionState.all(tokenID: r.record.id!, db) {
                    guard let row = try TokenVersionRecord.version(state.version, tokenID: r.record.id!, db) else { continue }
                    let range = try open(row, tokenID: r.record.id!, version: state.version, name: t.name, into: &scratch)
                    let equal = scratch.withUnsafeBytes { s in range.count == v.count && Sodium.constantTimeEqual(UnsafeRawBufferPointer(rebasing: s[range]), v) }
                    scratch.reset()
                    if equal { return true }
                }
                return false
            }) ?? true
        }
        if reused { throw refuse("the answer's value is one this token already had") }
        if months > 0 {
            let expected = Calendar(identifier: .gregorian).date(byAdding: .month, value: months, to: now) ?? now
            guard let e = created.expires, abs(e.timeIntervalSince(expected)) <= 3 * 86400 else {
                throw refuse("the answer's expiry is not \(months) month\(months == 1 ? "" : "s") from now")
            }
        }
    }

    /// `renew --forget-intent ID`: a person resolves an open intent by hand (say its base URL
    /// has no manager any more); audited like any resolution. What it may have created in the
    /// console is theirs to check (`vault sync` lists keys in no vault).
    public func forgetIntent(_ id: Int64) throws(VaultError) -> String {
        let lock = try vault.store.exclusiveRunLock()
        defer { _ = lock }
        let stored = try intents()
        guard let intent = (stored + (try intentsOnlyInAudit(besides: Set(stored.map(\.id))))).first(where: { $0.id == id }) else {
            throw .invalidInput(reason: "no open renewal intent \(id)", hint: "`vault doctor` and `vault renew --dry-run` list them")
        }
        try perform("renew", subjects: [], details: ["step": "intent-forgotten", "console_name": intent.plannedName, "intent": "\(id)"]) { w in
            try w.db.execute(sql: "DELETE FROM renewal_intents WHERE id = ?", arguments: [id])
        }
        return intent.plannedName
    }

    /// Drops an intent whose create certainly made no key.
    func dropIntent(_ intent: RenewalIntent, why: String) -> RenewReport.Item {
        var item = RenewReport.Item(kind: .orphanRemoved, consoleName: intent.plannedName, message: "")
        do {
            try perform("renew", subjects: [], details: ["step": "intent-resolved", "console_name": intent.plannedName, "intent": "\(intent.id)",
                                                         "orphans_removed": "", "why": why]) { w in
                try w.db.execute(sql: "DELETE FROM renewal_intents WHERE id = ?", arguments: [intent.id])
            }
            item.message = "\(why): no key was created; intent dropped"
        } catch {
            item.kind = .failed; item.message = "dropping the renewal intent for \(intent.plannedName) failed: \(error)"
        }
        return item
    }

    /// Seals `value` as the next version of `name`, retired (staged) and linked, and deletes
    /// the intent, in one transaction.
    func sealStaged(_ name: String, value: borrowing SecureBytes, link: ConsoleLink, expires: Date?, intent: Int64) throws(VaultError) -> Int {
        try TokenInput.validate(value)
        return try perform("renew", subjects: [AuditSubject(name: name)],
                           details: ["step": "sealed", "console_id": link.id ?? "", "console_name": link.name ?? "", "intent": "\(intent)"]) { w in
            let t = try resolve(w.db, name)
            let maxVersion = try Int.fetchOne(w.db, sql: "SELECT max(version) FROM token_versions WHERE token_id = ?", arguments: [t.record.id!]) ?? 0
            guard maxVersion < Int(UInt32.max) else { throw VaultError.invalidInput(reason: "token \(name) has reached the last version number", hint: nil) }
            _ = try insertVersion(w.db, tokenID: t.record.id!, version: maxVersion + 1, secret: value, expires: expires,
                                  retiredAt: Timestamp.seconds(now), console: link)
            try w.db.execute(sql: "DELETE FROM renewal_intents WHERE id = ?", arguments: [intent])
            var record = t.record
            try sealState(w, &record)
            w.subjects = [AuditSubject(name: name, version: maxVersion + 1)]
            return maxVersion + 1
        }
    }

    enum PromoteError: Error { case stateChanged, vault(VaultError) }

    /// Makes the staged version current, retiring `over` — which must still be the current one
    /// (`.stateChanged` when another version became current meanwhile).
    func promote(_ name: String, staged: Int, over expected: Int) throws(PromoteError) {
        var superseded = false
        do throws(VaultError) {
            try perform("renew", subjects: [AuditSubject(name: name, version: staged)], details: ["step": "promoted"]) { w in
            let t = try resolve(w.db, name, version: staged)
            guard t.current.version == expected else {
                superseded = true
                throw VaultError.invalidInput(reason: "superseded: version \(t.current.version) of \(name) became current meanwhile", hint: nil)
            }
            guard t.target.retiredAt != nil, staged > t.current.version, t.target.console.state == .enabled else {
                throw VaultError.invalidInput(reason: "version \(staged) of \(name) is not staged", hint: nil)
            }
            let id = t.record.id!
            try w.db.execute(sql: "UPDATE token_versions SET retired_at = ? WHERE token_id = ? AND version = ?", arguments: [Timestamp.seconds(now), id, t.current.version])
            try w.db.execute(sql: "UPDATE token_versions SET retired_at = NULL WHERE token_id = ? AND version = ?", arguments: [id, staged])
            var record = t.record
            try sealState(w, &record)
            w.details["previous"] = "\(t.current.version)"
            }
        } catch {
            throw superseded ? .stateChanged : .vault(error)
        }
    }

    /// Records what v1vault did to a version's console key.
    func markConsole(_ name: String, version: Int, state: ConsoleLink.State, step: String) throws(VaultError) {
        try perform("renew", subjects: [AuditSubject(name: name, version: version)], details: ["step": step]) { w in
            let t = try resolve(w.db, name, version: version)
            var link = t.target.console
            link.state = state
            try TokenVersionRecord.updateConsole(w.db, tokenID: t.record.id!, version: version, link)
            var record = t.record
            try sealState(w, &record)
        }
    }

    // MARK: - Leftovers of earlier runs

    /// A crashed run's intent: find the console key it may have created (by its planned name),
    /// and unless a version of this vault is that key, disable and delete it — its value is
    /// lost. Then drop the intent.
    func removeOrphan(_ intent: RenewalIntent, api: ConsoleAPI) -> RenewReport.Item {
        var item = RenewReport.Item(kind: .orphanRemoved, consoleName: intent.plannedName, message: "")
        let found: [ConsoleKey]
        do { found = try api.list(name: intent.plannedName).filter { $0.name == intent.plannedName } } catch {
            item.kind = .failed
            item.message = "looking for \(intent.plannedName) (left by an interrupted renew) failed: \(error); the next run retries"
            return item
        }
        // Fail safe: delete nothing unless every token authenticates (a key linked to a token
        // that does not would otherwise look like an orphan) and this intent was never resolved.
        let linked: Set<String>
        do {
            let (tokens, broken) = try linkedTokens()
            if let (name, error) = broken.first { throw VaultError.stateTampered(name: name, reason: error.description) }
            linked = Set(tokens.flatMap { $0.versions.compactMap(\.console.id) })
            try checkIntentUnresolved(intent)
        } catch {
            item.kind = .failed
            item.message = "left \(intent.plannedName) alone: \(error)"
            return item
        }
        var removed: [String] = []
        // A create whose answer was lost may still complete: while the intent is younger than a
        // day and no key has appeared, keep it and look again next run.
        if found.isEmpty, now.timeIntervalSince(intent.created) < 86400 {
            item.kind = .skipped
            item.message = "no key named \(intent.plannedName) exists (yet): the intent stays and the next runs look again until \(Timestamp.iso(intent.created.addingTimeInterval(86400)))"
            return item
        }
        for key in found where !linked.contains(key.id) {
            item.consoleID = key.id
            if key.enabled, let e = consoleWrite("disable", name: nil, version: nil, id: key.id, api: api, { () throws(ConsoleFailure) in try api.setStatus(key.id, enabled: false) }) {
                item.kind = .failed; item.message = "disabling orphaned key \(intent.plannedName) failed: \(e); the next run retries"; return item
            }
            if intent.rebuilt {
                removed.append(key.id + " (disabled only)")
                continue
            }
            if let e = consoleWrite("delete", name: nil, version: nil, id: key.id, api: api, { () throws(ConsoleFailure) in
                guard try api.delete([key.id])[key.id] == true else { throw ConsoleFailure(call: "delete", host: api.host, code: "not deleted") }
            }) {
                item.kind = .failed; item.message = "deleting orphaned key \(intent.plannedName) failed: \(e); it is disabled; the next run retries"; return item
            }
            removed.append(key.id)
        }
        do {
            try perform("renew", subjects: [], details: ["step": "intent-resolved", "console_name": intent.plannedName, "intent": "\(intent.id)",
                                                         "orphans_removed": removed.joined(separator: ",")]) { w in
                try w.db.execute(sql: "DELETE FROM renewal_intents WHERE id = ?", arguments: [intent.id])
            }
        } catch {
            item.kind = .failed; item.message = "dropping the renewal intent for \(intent.plannedName) failed: \(error)"; return item
        }
        item.message = removed.isEmpty ? "no key named \(intent.plannedName) appeared within a day; intent dropped"
            : intent.rebuilt ? "disabled console key \(intent.plannedName) left by an interrupted renew; its intent row was missing from the file, so it is not deleted: delete it in the console"
                                       : "removed orphaned console key \(intent.plannedName) (its value was never stored)"
        return item
    }

    /// Throws unless the audit log — verified, whole chain — has no sealed `renew` row that
    /// resolved this intent: an old, authentic intent row copied back into the file (a replay)
    /// names a key that was stored, or already removed, and must not be acted on again.
    func checkIntentUnresolved(_ intent: RenewalIntent) throws {
        try vault.store.read { db in
            let chain = try AuditChain.verify(db, key: auditKey, epochs: try auditEpochs(db), expectHead: nil)
            if let problem = chain.problem { throw VaultError.stateTampered(name: intent.plannedName, reason: "the audit log does not verify (\(problem))") }
            let marker = "\"intent\":\"\(intent.id)\""
            let resolved = try Bool.fetchOne(db, sql: """
                SELECT EXISTS (SELECT 1 FROM audit_log NOT INDEXED WHERE mac IS NOT NULL AND action = 'renew' AND outcome = 'ok' AND instr(details, ?) > 0)
                """, arguments: [marker]) ?? true
            if resolved {
                throw VaultError.stateTampered(name: intent.plannedName, reason: "renewal intent \(intent.id) was resolved before (audit log): a replayed row")
            }
        }
    }

    /// A staged version left by a crashed run: verify it and finish.
    func resumeStaged(_ t: LinkedToken, api: ConsoleAPI, request: RenewRequest) -> RenewReport.Item {
        let staged = t.staged!
        let item = RenewReport.Item(kind: .failed, name: t.name, fromVersion: t.current.version, toVersion: staged.version,
                                    consoleName: staged.console.name, consoleID: staged.console.id, expires: staged.expires, message: "")
        do {
            let revealed = try reveal(t.name, version: staged.version, allowExpired: false, action: "renew-resume")
            return finish(t.name, oldVersion: t.current.version, oldLink: t.current.console, staged: staged.version, value: revealed.secret,
                          api: api, request: request, item: item)
        } catch {
            var failed = item
            failed.message = "resuming staged version \(staged.version) failed: \(error)"
            return failed
        }
    }

    /// Disables (`to: .disabled`) or deletes (`to: .deleted`) the console key of a retired
    /// version, audited, then records it on the version. A key already gone counts as deleted.
    func retire(_ t: LinkedToken, _ v: VersionSnapshot, to state: ConsoleLink.State, api: ConsoleAPI) -> RenewReport.Item {
        let disabling = state == .disabled
        var item = RenewReport.Item(kind: disabling ? .disabledOld : .deletedOld, name: t.name, fromVersion: v.version,
                                    consoleName: v.console.name, consoleID: v.console.id, message: "")
        let id = v.console.id!
        var recorded = state
        // Fail safe against a change since the run began: never an id a current or staged version is.
        let inUse = (try? vault.store.read { db in
            try Bool.fetchOne(db, sql: """
                SELECT EXISTS (SELECT 1 FROM token_versions WHERE console_id = ? AND (retired_at IS NULL OR console_state = 'enabled')
                               AND NOT (token_id = (SELECT id FROM tokens WHERE name = ?) AND version = ?))
                """, arguments: [id, t.name, v.version]) ?? true
        }) ?? true
        if inUse {
            item.kind = .skipped
            item.message = "console key \(v.console.name ?? id) of retired version \(v.version) is also the key of a version in use: left alone"
            return item
        }
        if !disabling {
            // Delete only what is still disabled: a key someone enabled again is left alone.
            do throws(ConsoleFailure) {
                let (key, _) = try api.get(id)
                if key.enabled {
                    item.kind = .skipped
                    item.message = "console key \(key.name) of retired version \(v.version) was enabled again in the console: not deleted (`vault sync` lists it)"
                    return item
                }
            } catch {
                if error.status != 404 {
                    item.kind = .failed; item.message = "reading the console key of retired version \(v.version) failed: \(error)"; return item
                }
            }
        }
        if let e = consoleWrite(disabling ? "disable" : "delete", name: t.name, version: v.version, id: id, api: api, { () throws(ConsoleFailure) in
            if disabling {
                do throws(ConsoleFailure) { try api.setStatus(id, enabled: false) } catch {
                    guard error.status == 404 else { throw error }
                    recorded = .deleted   // deleted in the console already
                }
            } else {
                guard try api.delete([id])[id] == true else { throw ConsoleFailure(call: "delete", host: api.host, code: "not deleted") }
            }
        }) {
            item.kind = .failed
            item.message = "\(disabling ? "disabling" : "deleting") the console key of retired version \(v.version) failed: \(e)"
            return item
        }
        do { try markConsole(t.name, version: v.version, state: recorded, step: disabling ? "disabled-old" : "deleted-old") } catch {
            item.kind = .failed; item.message = "recording the console key's new state failed: \(error)"; return item
        }
        item.message = "\(recorded == .deleted ? "deleted" : "disabled") the console key of retired version \(v.version)"
        return item
    }
}
