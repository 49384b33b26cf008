import Foundation
import VaultFormat
import VisionOne

/// Resolves a renewal intent: a create was asked for and the process died, failed or was
/// refused before the value was sealed, so a console key named `plannedName` may exist whose
/// value nobody has. Such a key is disabled and deleted — but only when every piece of
/// evidence says it is this intent's own, never used, and not the live key of a renewal that
/// finished somewhere else (a restored backup). In any doubt it is reported and left alone.
///
/// In the run that made the intent (the create failed or its answer was refused), the key is
/// known to be nobody's and goes at once. An intent found by a later run may instead be in a
/// copy of the vault taken while its renewal ran and put back after it finished elsewhere —
/// then the key is that renewal's live key, and Vision One may not show its use yet
/// (`lastUsedDateTime` is lazy). So a later run waits: a found key is kept, enabled, until it
/// is `orphanWait` old (at least 7 days, and longer than the grace period that would have
/// disabled the old key in the other copy); only if by then it was never used, and the key
/// the token holds is still enabled, is it disabled and deleted.
struct IntentResolver {
    let vault: UnlockedVault
    let console: any ConsoleClient
    let facts: RenewalFacts
    var request = RenewRequest()

    /// How long a later run waits before it removes an unused orphan: a week, and longer than
    /// the grace period of this run and of the run that made the intent (its `console-create`
    /// row says it), so the copy that may have finished that renewal has disabled its old key.
    func orphanWait(_ intent: RenewalIntent) -> TimeInterval {
        max(7 * 86400, max(request.disableAfter, facts.intentDisableAfter[intent.id] ?? 0) + 86400)
    }

    var now: Date { vault.now }

    /// `createdID`: the id the console's own answer gave the key this run created (its answer
    /// was then refused): that key is known to be this intent's, whatever its expiry says.
    /// `sameRun`: called by the run that made the intent (no waiting).
    func resolve(_ intent: RenewalIntent, verifyOnly: Bool, sameRun: Bool = false, createdID: String? = nil) -> RenewReport.Item {
        var item = RenewReport.Item(kind: .orphanRemoved, consoleName: intent.plannedName, message: "")
        func failed(_ message: String) -> RenewReport.Item { item.kind = .failed; item.message = message; return item }
        let found: [ConsoleKey]
        do { found = try console.list(name: intent.plannedName).keys.filter { $0.name == intent.plannedName } } catch {
            return failed("looking for \(intent.plannedName) (left by an interrupted renew) failed: \(error); the next run retries")
        }
        // Fail safe: act on nothing unless every token authenticates (a key linked to a token
        // that does not would otherwise look like an orphan) and this intent was never resolved.
        let tokens: [LinkedToken]
        do {
            let (all, broken) = try vault.linkedTokens()
            if let (name, error) = broken.first { throw VaultError.stateTampered(name: name, reason: error.description) }
            tokens = all
            try vault.checkIntentUnresolved(intent)
        } catch {
            return failed("left \(intent.plannedName) alone: \(error)")
        }
        let linked = Set(tokens.flatMap { $0.versions.compactMap(\.console.id) })
        let candidates = found.filter { !linked.contains($0.id) }
        // A create whose answer was lost may still complete: while the intent is younger than a
        // day and no key has appeared, keep it and look again next run.
        if found.isEmpty, !verifyOnly, now.timeIntervalSince(intent.created) < 86400 {
            item.kind = .skipped
            item.message = "no key named \(intent.plannedName) exists (yet): the intent stays and the next runs look again until \(Timestamp.iso(intent.created.addingTimeInterval(86400)))"
            return item
        }
        var removed: [String] = [], leftAlone: [(key: ConsoleKey, why: String)] = []
        for key in candidates {
            let why: String?
            do { why = try reasonToLeave(key, intent: intent, verifyOnly: verifyOnly, tokens: tokens, createdHere: key.id == createdID) } catch {
                return failed("left \(intent.plannedName) alone for now: \(error); the next run looks again")
            }
            if let why { leftAlone.append((key, why)); continue }
            item.consoleID = key.id
            let until = intent.created.addingTimeInterval(orphanWait(intent))
            if !sameRun, key.enabled, now < until {
                item.kind = .skipped
                item.message = "console key \(key.name) (\(key.id)), made by a renewal interrupted \(Timestamp.iso(intent.created)), shows no use: kept until \(Timestamp.iso(until)) in case it is the live key of a copy of this vault; if still unused then, it is disabled and deleted (\(Shell.command("vault", "renew", "--forget-intent", "\(intent.id)")) leaves it to you)"
                return item
            }
            let retirer = OldKeyRetirer(vault: vault, console: console, request: request)
            if key.status == "enabled", let e = retirer.write("disable", name: nil, version: nil, id: key.id, { () throws(ConsoleFailure) in try console.setStatus(key.id, enabled: false) }) {
                return failed("disabling orphaned key \(intent.plannedName) failed: \(e); the next run retries")
            }
            if let e = retirer.write("delete", name: nil, version: nil, id: key.id, { () throws(ConsoleFailure) in
                guard try console.delete([key.id])[key.id] == true else { throw ConsoleFailure(call: "delete", host: console.host, code: "not deleted") }
            }) {
                return failed("deleting orphaned key \(intent.plannedName) failed: \(e); it is disabled; the next run retries")
            }
            removed.append(key.id)
        }
        do {
            try vault.resolveIntent(intent, details: ["orphans_removed": removed.joined(separator: ","),
                                                     "left_alone": leftAlone.map(\.key.id).joined(separator: ","),
                                                     "why": verifyOnly ? "verify-only (restored vault)" : ""])
        } catch {
            return failed("dropping the renewal intent for \(intent.plannedName) failed: \(error)")
        }
        if let first = leftAlone.first {
            item.kind = .skipped
            item.consoleID = first.key.id
            item.message = "left console key \(first.key.name) (\(first.key.id)) alone: \(first.why); it is in no version of this vault — if nobody holds its value, delete it in Administration > API Keys (`vault sync` lists it); intent dropped"
            return item
        }
        item.message = removed.isEmpty ? (found.isEmpty ? "no key named \(intent.plannedName) appeared within a day; intent dropped"
                                                        : "the key named \(intent.plannedName) is stored in this vault; intent dropped")
            : "removed orphaned console key \(intent.plannedName) (its value was never stored)"
        return item
    }

    /// Why `key` must not be disabled or deleted, or nil when all the evidence says it is this
    /// intent's orphan: never used, made when the intent was, with the lifetime it asked for, and
    /// not the live key of a renewal that finished in another copy of this vault.
    func reasonToLeave(_ key: ConsoleKey, intent: RenewalIntent, verifyOnly: Bool, tokens: [LinkedToken], createdHere: Bool = false) throws(ConsoleFailure) -> String? {
        if verifyOnly {
            return "this vault was restored from a copy taken while that renewal ran (`vault restore`), so the renewal may have finished in the vault that was replaced and this may be its live key"
        }
        // Rebuilt from the audit log: its row is gone from the file (a restore, or an edit) —
        // and the log may be cut short at its tail, so its word alone never removes a key.
        if intent.rebuilt {
            return "the intent's row is missing from the file (it was rebuilt from the audit log, whose tail may have been cut): reported, never acted on"
        }
        if key.usageShown {
            return "the console shows it was used (last use \(key.lastUsed.map(Timestamp.iso) ?? "given, in a form v1vault does not read")): someone holds its value"
        }
        guard key.status == "enabled" || key.status == "disabled" else {
            return "the console gives it the status \(key.status), neither enabled nor disabled"
        }
        if let created = key.created {
            if created < intent.created.addingTimeInterval(-600) {
                return "the console says it was created \(Timestamp.iso(created)), before that renewal began (\(Timestamp.iso(intent.created)))"
            }
            if created > intent.created.addingTimeInterval(86400) {
                return "the console says it was created \(Timestamp.iso(created)), more than a day after that renewal began"
            }
        }
        if !createdHere, let months = facts.intentMonths[intent.id] {
            let fits = months == 0 ? key.expires == nil : key.expires.map { ConsoleAnswers.expiryFits($0, months: months, at: intent.created) } ?? false
            if !fits {
                return "its expiry (\(key.expires.map(Timestamp.iso) ?? "never")) is not what that renewal asked for (\(months == 0 ? "none" : "\(months) months") from \(Timestamp.iso(intent.created)))"
            }
        }
        // The renewal may have finished elsewhere: then the token's own key (the one this
        // renewal started from) was disabled there, while this one is the live successor. A
        // token that is gone from the vault leaves nothing to compare with: left alone.
        guard let t = tokens.first(where: { $0.id == intent.tokenID }) else {
            return "the token that planned it is no longer in this vault, so nothing shows whether that renewal finished elsewhere"
        }
        if key.enabled, let ownID = t.current.console.id, ownID != key.id {
            let own: ConsoleKey?
            do { own = try console.get(ownID).key } catch {
                guard error.status == 404 else { throw error }
                own = nil
            }
            if own?.enabled != true {
                return "the key \(t.name) holds (\(t.current.console.name ?? ownID)) is \(own == nil ? "gone" : "disabled") in the console while this one is enabled: the renewal looks finished by another copy of this vault (a restored backup?)"
            }
        }
        return nil
    }

    /// Drops an intent whose create certainly made no key.
    func drop(_ intent: RenewalIntent, why: String) -> RenewReport.Item {
        var item = RenewReport.Item(kind: .orphanRemoved, consoleName: intent.plannedName, message: "")
        do {
            try vault.resolveIntent(intent, details: ["orphans_removed": "", "why": why])
            item.message = "\(why): no key was created; intent dropped"
        } catch {
            item.kind = .failed; item.message = "dropping the renewal intent for \(intent.plannedName) failed: \(error)"
        }
        return item
    }
}
