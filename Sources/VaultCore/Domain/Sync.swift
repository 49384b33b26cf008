import Foundation
import VaultFormat
import VaultStorage
import VisionOne

/// What `vault sync` found: the organisation's keys joined with the vault.
public struct SyncReport: Sendable {
    public struct Finding: Sendable, Equatable {
        public enum Kind: String, Sendable {
            case consistent
            /// The current version's console key is disabled or deleted: the token is dead.
            case dead
            case expiryDiffers = "expiry-differs"
            case nameDiffers = "name-differs"
            /// A stored token not linked yet, whose name matches a console key.
            case linkProposed = "link-proposed"
            case unlinked
            /// A console key that no version of this vault is: its value is unrecoverable here.
            case notInVault = "not-in-vault"
            /// A retired version's console key is still enabled.
            case retiredEnabled = "retired-enabled"
            case unused
            /// Console keys whose name or id v1vault cannot represent.
            case unreadable
        }
        public var kind: Kind
        public var name: String?
        public var version: Int?
        public var consoleID: String?
        public var consoleName: String?
        public var baseURL: String
        public var vaultExpires: Date?
        public var consoleExpires: Date?
        public var lastUsed: Date?
        public var message: String
        /// Whether `--apply` changed the vault for it.
        public var applied = false
        /// A retired key still enabled within renew's default grace period: expected, not drift.
        public var inGrace = false
    }
    public var findings: [Finding] = []
    public var consoleKeys = 0
    /// Anything but `consistent` (an old key in its grace period is expected).
    public var drifted: Bool { findings.contains { $0.kind != .consistent && !$0.inGrace } }
}

extension UnlockedVault {
    /// Lists every key of each base URL that has a manager and joins them with the vault.
    /// With `apply`: console expiries and names replace the vault's, proposed links are made
    /// (one `sync` audit row per token changed). `unusedDays`: stored keys not used for this
    /// long are reported.
    public func sync(apply: Bool, unusedDays: Int = 90, console makeConsole: ConsoleFactory = UnlockedVault.httpConsole) throws(VaultError) -> SyncReport {
        let lock = try vault.store.exclusiveRunLock()
        defer { _ = lock }
        let (tokens, broken) = try linkedTokens()
        if let (name, error) = broken.first { throw VaultError.stateTampered(name: name, reason: error.description) }
        var report = SyncReport()
        let managerList = try managers()
        guard !managerList.isEmpty else { throw .noManager(baseURL: "any base URL") }
        let intents = try intents()
        let refused = try refusedConfirmations()
        let editRefused = try renewalFacts().editRefused
        let nowDate = now
        for m in managerList {
            let token = try reveal(m.name, action: "manager-use", details: ["for": "sync"])
            let api = makeConsole(m.baseURL, token.secret, 75)
            let listing: ConsoleListing
            do { listing = try api.list() } catch { throw .consoleFailed(detail: error.description) }
            let keys = listing.keys
            if listing.skipped > 0 {
                report.findings.append(.init(kind: .unreadable, baseURL: m.baseURL,
                                             message: "\(listing.skipped) console key\(listing.skipped == 1 ? "" : "s") with a name or id v1vault cannot represent (control or bidi characters, an odd id): not compared, never acted on"))
            }
            report.consoleKeys += keys.count
            try? record("console-list", details: ["base_url": m.baseURL, "keys": "\(keys.count)"])
            let byID = Dictionary(keys.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
            let byName = Dictionary(keys.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            let here = tokens.filter { $0.baseURL == m.baseURL }
            var known = Set<String>()
            for t in here {
                for v in t.versions { if let id = v.console.id { known.insert(id) } }
                let c = t.current
                func finding(_ kind: SyncReport.Finding.Kind, _ key: ConsoleKey?, _ message: String) -> SyncReport.Finding {
                    .init(kind: kind, name: t.name, version: c.version, consoleID: key?.id ?? c.console.id, consoleName: key?.name ?? c.console.name,
                          baseURL: m.baseURL, vaultExpires: c.expires, consoleExpires: key?.expires, lastUsed: key?.lastUsed, message: message)
                }
                guard let id = c.console.id else {
                    let candidate = byName[c.console.name ?? t.name] ?? byName[t.name]
                    let taken = candidate.map { key in tokens.contains(where: { $0.versions.contains { $0.console.id == key.id } }) } ?? true
                    let checked = candidate.flatMap { refused[.init(name: t.name, version: c.version, consoleID: $0.id)] }
                    if let key = candidate, !taken, checked == nil {
                        var f = finding(.linkProposed, key, "not linked; the console key \(key.name) (\(key.id)) has its name — a name alone proves nothing: `vault sync --apply` checks it by using the stored value once")
                        if apply {
                            do {
                                // A name proves nothing (the key behind it may have been replaced by
                                // someone else's): link only when using the stored value moves that key's last use.
                                if let why = try confirmSameKey(t.name, version: c.version, key: key, api: api) {
                                    f.message = "not linked: \(why); if you know it is that key, \(Shell.command("vault", "edit", t.name, "--console-id", key.id, "--console-name=" + key.name, "--role=" + (key.role ?? t.role ?? "ROLE"))) links it"
                                    report.findings.append(f)
                                    continue
                                }
                                try link(t.name, consoleID: key.id, consoleName: key.name)
                                // Confirmed to be that key: its role is what `renew` checks the link by.
                                if t.role == nil, let role = key.role { try edit(t.name, TokenEdit(role: .some(role))) }
                                if let e = key.expires, c.expires.map({ abs($0.timeIntervalSince(e)) >= 60 }) ?? true { try setExpiry(t.name, e) }
                                f.applied = true; f.message = "linked to console key \(key.name) (\(key.id))"
                                known.insert(key.id)
                            } catch { f.message = "linking failed: \(error)" }
                        }
                        report.findings.append(f)
                    } else {
                        var message = "version \(c.version) is not linked to a console key"
                        if let key = candidate, let checked {
                            message += "; \(key.name) (\(key.id)) was checked \(Timestamp.day(checked.at)) and could not be confirmed (\(checked.why))"
                        }
                        message += "; once you know which console key holds it: \(Shell.command("vault", "edit", t.name, "--console-id", "ID", "--console-name", "NAME", "--role=" + (t.role ?? "ROLE")))"
                        report.findings.append(finding(.unlinked, nil, message))
                    }
                    continue
                }
                guard let key = byID[id] else {
                    report.findings.append(finding(.dead, nil, "its console key \(c.console.name ?? id) was DELETED in the console: this token no longer works"))
                    continue
                }
                guard key.enabled else {
                    report.findings.append(finding(.dead, key, "its console key \(key.name) is DISABLED in the console: this token no longer works"))
                    continue
                }
                var clean = true
                if let e = key.expires, c.expires.map({ abs($0.timeIntervalSince(e)) >= 60 }) ?? true {
                    clean = false
                    var f = finding(.expiryDiffers, key, "the console says it expires \(Timestamp.iso(e)), the vault \(c.expires.map(Timestamp.iso) ?? "never")")
                    if apply && key.name != c.console.name {
                        // The id may be mistyped: never take another key's expiry (it would silence renew).
                        f.message += "; not applied: the console's name for this key differs from the vault's"
                    } else if apply {
                        do { try setExpiry(t.name, e); f.applied = true; f.message += "; vault updated" } catch { f.message += "; update failed: \(error)" }
                    }
                    report.findings.append(f)
                }
                if key.name != c.console.name {
                    // Never adopted automatically: a mistyped id names another key, and taking
                    // its name would make renew act on that key. A person confirms it.
                    clean = false
                    report.findings.append(finding(.nameDiffers, key, "the console calls key \(key.id) \(key.name), the vault \(c.console.name ?? "(no name)"): "
                                                   + "if it is the right key, \(Shell.command("vault", "edit", t.name, "--console-name=" + key.name)); otherwise fix the id"))
                }
                let idle = (key.lastUsed ?? c.created).addingTimeInterval(TimeInterval(unusedDays) * 86400) <= nowDate
                if idle {
                    clean = false
                    report.findings.append(finding(.unused, key, key.lastUsed.map { "not used since \(Timestamp.day($0))" } ?? "never used since it was stored"))
                }
                if clean { report.findings.append(finding(.consistent, key, "linked and consistent")) }
                for v in t.versions where v.retired != nil && v.version != t.staged?.version {
                    if let id = v.console.id, let old = byID[id], old.enabled {
                        // `renew` keeps an old key enabled for its grace period (1 day by default).
                        let graceEnds = v.retired.map { $0.addingTimeInterval(RenewRequest().disableAfter) }
                        if !editRefused.contains(id), v.console.state == .enabled, let graceEnds, graceEnds > nowDate {
                            var f = SyncReport.Finding(kind: .retiredEnabled, name: t.name, version: v.version, consoleID: id, consoleName: old.name,
                                                       baseURL: m.baseURL, lastUsed: old.lastUsed,
                                                       message: "retired version \(v.version)'s console key stays enabled for consumers until \(Timestamp.iso(graceEnds)) (renew's grace period); then `vault renew` disables it")
                            f.inGrace = true
                            report.findings.append(f)
                            continue
                        }
                        let message = editRefused.contains(id)
                            ? "retired version \(v.version)'s console key is still enabled, and the console refuses to let v1vault change it (a key moved from the old User Accounts app): disable or delete it in Administration > API Keys once nothing uses it"
                            : "retired version \(v.version)'s console key is still enabled: `vault renew` disables it once its grace period is over"
                        report.findings.append(.init(kind: .retiredEnabled, name: t.name, version: v.version, consoleID: id, consoleName: old.name,
                                                     baseURL: m.baseURL, lastUsed: old.lastUsed, message: message))
                    }
                }
            }
            let planned = Set(intents.map(\.plannedName))
            // Versions here that name no console key may hold any key that is in no link: then
            // "nobody can recover its value" would be a guess.
            let unlinked = here.flatMap { t in t.versions.filter { $0.console.id == nil && $0.console.state != .deleted }.map { "\(t.name) v\($0.version)" } }
            for key in keys where !known.contains(key.id) {
                let note = planned.contains(key.name) ? " (left by an interrupted renew: `vault renew` resolves it)" : ""
                let whose = unlinked.isEmpty ? "in no version of this vault: nobody can recover its value here"
                    : "linked to no version of this vault, but \(unlinked.count) version\(unlinked.count == 1 ? "" : "s") here name\(unlinked.count == 1 ? "s" : "") no console key (\(unlinked.prefix(3).joined(separator: ", "))\(unlinked.count > 3 ? ", …" : "")), so it may hold one of them"
                report.findings.append(.init(kind: .notInVault, consoleID: key.id, consoleName: key.name, baseURL: m.baseURL,
                                             consoleExpires: key.expires, lastUsed: key.lastUsed,
                                             message: "in the console (\(key.status)) and \(whose); last used "
                                                 + (key.lastUsed.map { Timestamp.day($0) } ?? "never (or not yet shown)") + note))
            }
        }
        return report
    }

    /// nil when the stored current value of `name` is console key `key`: it is used once (the
    /// connectivity endpoint, audited as `sync-confirm`), and the key's `lastUsedDateTime` must
    /// then be at or after that moment. Otherwise why that is not known — never a verdict that
    /// it is a different key: no source says when or how promptly Vision One moves
    /// `lastUsedDateTime`, so a last use that did not move proves nothing. The outcome is
    /// recorded (`sync-confirm-result`), and a pair that could not be confirmed is not proposed
    /// again.
    func confirmSameKey(_ name: String, version: Int, key: ConsoleKey, api: any ConsoleClient) throws(VaultError) -> String? {
        func outcome(_ why: String?) -> String? {
            try? record("sync-confirm-result", subjects: [AuditSubject(name: name, version: version)],
                        details: ["console_id": key.id, "result": why == nil ? "confirmed" : "not-confirmed", "why": why ?? ""])
            return why
        }
        guard key.enabled else { return outcome("console key \(key.name) is disabled") }
        // Both times are the console's own (no clock skew): the key must have been idle for a
        // minute before the probe, and its last use must move with it — a key in use by its own
        // integration right now cannot be told apart, so it is not linked.
        let pre = key.lastUsed
        if let pre, let latest = (try? api.get(key.id))?.key.lastUsed, latest > pre {
            return outcome("\(key.name) is in use right now, so its last use cannot tell")
        }
        let token = try reveal(name, action: "sync-confirm", details: ["console_id": key.id])
        if case .failure(let f) = token.secret.withUnsafeBytes({ api.connectivity($0) }) {
            return outcome("its stored value does not work with Vision One (\(f))")
        }
        do {
            let (fresh, _) = try api.get(key.id)
            guard let used = fresh.lastUsed, used > (pre ?? .distantPast) else {
                return outcome("using its stored value did not (yet) move \(key.name)'s last use, and Vision One does not say how promptly it does: that proves nothing either way")
            }
            guard pre.map({ used.timeIntervalSince($0) >= 60 }) ?? true else {
                return outcome("\(key.name) was used within the minute before, so its last use cannot tell")
            }
            return outcome(nil)
        } catch {
            return outcome("reading \(key.name) failed (\(error))")
        }
    }

    struct ConfirmationKey: Hashable { var name: String; var version: Int; var consoleID: String }

    /// Pairs (token version, console key) that `sync --apply` tried and could not confirm.
    func refusedConfirmations() throws(VaultError) -> [ConfirmationKey: (at: Date, why: String)] {
        try vault.store.read { db in
            var out: [ConfirmationKey: (at: Date, why: String)] = [:]
            for row in try AuditRecord.sealedRows(actions: ["sync-confirm-result"], okOnly: false, db) {
                guard let text = row.details, let at = row.at.flatMap(ConsoleAnswers.date),
                      let d = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: String], let id = d["console_id"],
                      let subjects = row.tokens.flatMap({ try? JSONDecoder().decode([AuditSubject].self, from: Data($0.utf8)) }),
                      let s = subjects.first, let v = s.version else { continue }
                let k = ConfirmationKey(name: s.name, version: v, consoleID: id)
                if d["result"] == "confirmed" { out[k] = nil } else { out[k] = (at, d["why"] ?? "") }
            }
            return out
        }
    }

    /// Sets the current version's expiry to the console's (audited as `sync`).
    func setExpiry(_ name: String, _ expires: Date) throws(VaultError) {
        try perform("sync", subjects: [AuditSubject(name: name)], details: ["expires": Timestamp.iso(expires)]) { w in
            let t = try resolve(w.db, name)
            try TokenVersionRecord.updateExpiry(w.db, tokenID: t.record.id!, version: t.current.version, expiresAt: Timestamp.seconds(expires))
            var record = t.record
            try sealState(w, &record)
            w.subjects = [AuditSubject(name: name, version: t.current.version)]
        }
    }
}
