import Foundation
import VaultFormat
import VaultStorage
import VisionOne

/// The vault's side of a renewal: each a single audited transaction (or a read), named for
/// the step that uses it.
extension UnlockedVault {
    /// Debug builds only: `V1VAULT_DEBUG_KILL_AT=point` makes the process SIGKILL itself at that
    /// step of `renew` (the crash trials). Compiled out of release builds.
    func crashPoint(_ point: String) {
        #if DEBUG
        if let at = ProcessInfo.processInfo.environment["V1VAULT_DEBUG_KILL_AT"], at == point { kill(getpid(), SIGKILL) }
        #endif
    }

    /// Commits a renewal intent and its `console-create` audit row, before the create call.
    func recordIntent(token name: String, planned: String, baseURL: String, months: Int, role: String, disableAfter: TimeInterval) throws(VaultError) -> RenewalIntent {
        try perform("console-create", subjects: [AuditSubject(name: name)],
                    details: ["console_name": planned, "months": "\(months)", "role": role, "base_url": baseURL,
                              "disable_after": "\(Int(disableAfter))"]) { w in
            let tokenID = try resolve(w.db, name).record.id!
            let intent = try writeIntent(w.db, tokenID: tokenID, plannedName: planned, baseURL: baseURL)
            // Ids are never reused unless someone rewound sqlite_sequence: then an old
            // resolution row would make this one look replayed. Refuse before any call.
            // Only sealed rows of the actions that name intents count: a planted pending row must
            // not block every renewal.
            if try AuditRecord.sealedRowMentions("\"intent\":\"\(intent.id)\"", actions: ["renew", "console-create"], okOnly: false, w.db) {
                throw VaultError.corruptVault(reason: "renewal intent id \(intent.id) was used before (sqlite_sequence was rewound)")
            }
            w.details["intent"] = "\(intent.id)"
            return intent
        }
    }

    /// Refuses what a buggy or hostile server may answer to a create: an id some version
    /// already links, a value equal to the manager's or one this token had, an expiry that
    /// fits no reading of the months asked for. Thrown before the value is stored.
    func checkCreated(id: String, value: SecretView, expires: Date?, months: Int, token name: String, console: any ConsoleClient) throws(ConsoleFailure) {
        func refuse(_ why: String) -> ConsoleFailure { ConsoleFailure(call: "create", host: console.host, code: why) }
        // Plain reads are enough here: they can only refuse (fail safe), never allow.
        let linked = (try? vault.store.read { db in
            try TokenVersionRecord.linksConsoleKey(id, db)
        }) ?? true
        if linked { throw refuse("the answer names a key this vault already links") }
        if value.withUnsafeBytes({ console.isManagerValue($0) }) { throw refuse("the answer's value is the manager key's") }
        let reused: Bool = value.withUnsafeBytes { v in
            (try? vault.store.read { db -> Bool in
                let r = try resolve(db, name)
                var scratch = SecureBytes(capacity: 4096, empty: true)
                for state in try VersionState.all(tokenID: r.record.id!, db) {
                    guard let row = try TokenVersionRecord.version(state.version, tokenID: r.record.id!, db) else { continue }
                    let range = try open(row, tokenID: r.record.id!, version: state.version, name: name, into: &scratch)
                    let equal = scratch.withUnsafeBytes { s in range.count == v.count && Sodium.constantTimeEqual(UnsafeRawBufferPointer(rebasing: s[range]), v) }
                    scratch.reset()
                    if equal { return true }
                }
                return false
            }) ?? true
        }
        if reused { throw refuse("the answer's value is one this token already had") }
        if months > 0 {
            guard let e = expires, ConsoleAnswers.expiryFits(e, months: months, at: now) else {
                throw refuse("the answer's expiry is not \(months) month\(months == 1 ? "" : "s") from now")
            }
        }
    }

    /// Seals `value` as the next version of `name`, retired (staged) and linked, and deletes
    /// the intent, in one transaction.
    func sealStaged(_ name: String, value: SecretView, link: ConsoleLink, expires: Date?, intent: Int64) throws(VaultError) -> Int {
        try TokenInput.validate(value)
        return try perform("renew", subjects: [AuditSubject(name: name)],
                           details: ["step": "sealed", "console_id": link.id ?? "", "console_name": link.name ?? "", "intent": "\(intent)"]) { w in
            let t = try resolve(w.db, name)
            let maxVersion = try TokenVersionRecord.maxVersion(tokenID: t.record.id!, w.db)
            guard maxVersion < Int(UInt32.max) else { throw VaultError.invalidInput(reason: "token \(name) has reached the last version number", hint: nil) }
            var scratch = SecureBytes(capacity: SealedEntry.bindingBytes + value.count, empty: true)
            _ = try value.withUnsafeBytes { raw in
                try insertVersion(w.db, tokenID: t.record.id!, version: maxVersion + 1, token: raw, expires: expires, scratch: &scratch,
                                  retiredAt: Timestamp.seconds(now), console: link)
            }
            try IntentRow.delete(id: intent, w.db)
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
                try TokenVersionRecord.setRetiredAt(Timestamp.seconds(now), tokenID: id, version: t.current.version, w.db)
                try TokenVersionRecord.setRetiredAt(nil, tokenID: id, version: staged, w.db)
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

    /// Deletes an intent's row, audited as `renew` `step=intent-resolved`.
    func resolveIntent(_ intent: RenewalIntent, details: [String: String]) throws(VaultError) {
        var d = details.filter { !$0.value.isEmpty || $0.key == "orphans_removed" }
        d["step"] = "intent-resolved"; d["console_name"] = intent.plannedName; d["intent"] = "\(intent.id)"
        try perform("renew", subjects: [], details: d) { w in
            try IntentRow.delete(id: intent.id, w.db)
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
            try IntentRow.delete(id: id, w.db)
        }
        return intent.plannedName
    }

    /// `vault restore`: the restored copy's first row lists the intents open in it
    /// (`verify_only`), and their rows go in the same transaction (see `Vault.restore`).
    func markRestored(from source: String, intents: [RenewalIntent]) throws(VaultError) {
        try perform("restore", subjects: [], details: ["from": source, "verify_only": intents.map { "\($0.id)" }.joined(separator: ",")]) { w in
            try IntentRow.deleteAll(w.db)
        }
    }

    /// Whether a current or staged version (other than `name`'s `version`) links console key
    /// `id`. A failed read counts as in use (fail safe).
    func consoleKeyInUse(_ id: String, besides name: String, version: Int) -> Bool {
        (try? vault.store.read { db in
            try TokenVersionRecord.consoleKeyInUse(id, besides: name, version: version, db)
        }) ?? true
    }

    /// Throws unless the audit log — verified, whole chain — has no sealed `renew` row that
    /// resolved this intent: an old, authentic intent row copied back into the file (a replay)
    /// names a key that was stored, or already removed, and must not be acted on again.
    func checkIntentUnresolved(_ intent: RenewalIntent) throws {
        try vault.store.read { db in
            let chain = try AuditChain.verify(db, key: auditKey, epochs: try auditEpochs(db), expectHead: nil)
            if let problem = chain.problem { throw VaultError.stateTampered(name: intent.plannedName, reason: "the audit log does not verify (\(problem))") }
            let marker = "\"intent\":\"\(intent.id)\""
            let resolved = try AuditRecord.sealedRowMentions(marker, actions: ["renew"], okOnly: true, db)
            if resolved {
                throw VaultError.stateTampered(name: intent.plannedName, reason: "renewal intent \(intent.id) was resolved before (audit log): a replayed row")
            }
        }
    }

    /// What the sealed audit rows say that the vault rows do not (`RenewalFacts`). Empty when
    /// the chain does not verify: then no intent is acted on anyway (`checkIntentUnresolved`).
    func renewalFacts() throws(VaultError) -> RenewalFacts {
        try vault.store.read { db in
            var facts = RenewalFacts()
            let chain = try AuditChain.verify(db, key: auditKey, epochs: try auditEpochs(db), expectHead: nil)
            guard chain.intact else { return facts }
            let rows = try AuditRecord.sealedRows(actions: ["renew", "console-edit-refused", "restore", "console-create", "rename", "remove"], okOnly: true, db)
            for row in rows {
                guard let action = row.action, let text = row.details, let at = row.at.flatMap(ConsoleAnswers.date),
                      let d = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: String] else { continue }
                let subjects = row.tokens.flatMap { try? JSONDecoder().decode([AuditSubject].self, from: Data($0.utf8)) } ?? []
                switch action {
                case "rename" where subjects.count == 2:
                    // Facts follow the token to its new name.
                    let (old, new) = (subjects[0].name, subjects[1].name)
                    for (k, v) in facts.disabledAt where k.name == old {
                        facts.disabledAt[k] = nil
                        facts.disabledAt[.init(name: new, version: k.version)] = v
                    }
                case "remove":
                    // A later token of that name is another token: it inherits nothing.
                    for s in subjects { for k in facts.disabledAt.keys where k.name == s.name { facts.disabledAt[k] = nil } }
                case "renew" where ["disabled-old", "verify-failed", "superseded"].contains(d["step"] ?? ""):
                    for s in subjects { if let v = s.version { facts.disabledAt[.init(name: s.name, version: v)] = at } }
                case "console-edit-refused":
                    if let id = d["console_id"] { facts.editRefused.insert(id) }
                case "restore":
                    for id in (d["verify_only"] ?? "").split(separator: ",").compactMap({ Int64($0) }) { facts.verifyOnlyIntents.insert(id) }
                case "console-create":
                    if let id = d["intent"].flatMap({ Int64($0) }) {
                        if let m = d["months"].flatMap({ Int($0) }) { facts.intentMonths[id] = m }
                        if let g = d["disable_after"].flatMap({ Int($0) }) { facts.intentDisableAfter[id] = TimeInterval(g) }
                    }
                default: break
                }
            }
            return facts
        }
    }
}
