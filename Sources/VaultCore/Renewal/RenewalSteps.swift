import Foundation
import VaultFormat
import VisionOne

/// The steps of one renewal, in order. Each step does one thing that is either a console call
/// or one vault transaction, and names the step that follows (or ends the renewal with a
/// report item). A crash between any two leaves the vault in a state the next run finishes:
/// an intent (a create may have happened), a staged version (verify and promote), or a
/// retired version whose old key is still enabled (disable it after the grace period).
public enum RenewalStep: String, CaseIterable, Sendable {
    /// GET the linked console key: it must exist, be enabled, and carry the name (and role)
    /// the vault linked.
    case readOldKey = "read-old-key"
    /// Commit the intent together with its `console-create` audit row.
    case recordIntent = "record-intent"
    /// POST the create; the value goes from the answer into secure memory.
    case create
    /// The answer makes sense: an unlinked id, a value that is neither the manager's nor one
    /// this token had, an expiry that fits the months asked for.
    case checkAnswer = "check-answer"
    /// Seal the value as a staged version and delete the intent, in one transaction.
    case sealStaged = "seal-staged"
    /// The connectivity check with the new value, retried while the key propagates.
    case verify
    /// Make the staged version current, only over the version the renewal started from.
    case promote
    /// Disable the old console key — now when there is no grace period, else a later run.
    case disableOld = "disable-old"

    /// The SIGKILL trials' names for "just after this step" (`V1VAULT_DEBUG_KILL_AT`).
    var crashPoint: String? {
        switch self {
        case .recordIntent: return "renew.intent"
        case .create: return "renew.created"
        case .sealStaged: return "renew.sealed"
        case .verify: return "renew.verified"
        case .promote: return "renew.promoted"
        case .disableOld: return "renew.disabled"
        case .readOldKey, .checkAnswer: return nil
        }
    }
}

/// Where one renewal is: what the steps so far found out.
struct RenewalState {
    let token: LinkedToken
    var item: RenewReport.Item
    /// Filled by `readOldKey`.
    var old: ConsoleKey?
    var role = ""
    var months = 0
    var planned = ""
    var intent: RenewalIntent?
    var newID: String?
    var newExpires: Date?
    var value: SecretView?
    var staged: Int?

    init(token: LinkedToken) {
        self.token = token
        item = RenewReport.Item(kind: .failed, name: token.name, fromVersion: token.current.version, consoleName: token.current.console.name,
                                consoleID: token.current.console.id, message: "")
    }

    /// A staged version left by an interrupted run, resumed at `verify`.
    init(resuming token: LinkedToken, value: SecretView) {
        self.init(token: token)
        let staged = token.staged!
        self.staged = staged.version
        self.value = value
        newID = staged.console.id
        planned = staged.console.name ?? ""
        newExpires = staged.expires
        item.toVersion = staged.version
        item.consoleName = staged.console.name
        item.consoleID = staged.console.id
        item.expires = staged.expires
    }
}

/// What a step decided.
enum RenewalTransition {
    case next(RenewalStep)
    case done(RenewReport.Item)
}

/// Runs renewals: one step at a time, each a method below, with the vault and the console it
/// was given. The loop in `run` is the only place steps follow each other.
struct Renewer {
    let vault: UnlockedVault
    let console: any ConsoleClient
    let request: RenewRequest
    let facts: RenewalFacts

    var now: Date { vault.now }

    /// Runs one renewal from `step` to its end.
    func run(_ state: inout RenewalState, from step: RenewalStep = .readOldKey) -> RenewReport.Item {
        var step = step
        while true {
            state.item.steps.append(step)
            let transition = perform(step, &state)
            if let point = step.crashPoint { vault.crashPoint(point) }
            switch transition {
            case .next(let s): step = s
            case .done(var item):
                item.steps = state.item.steps
                return item
            }
        }
    }

    func perform(_ step: RenewalStep, _ s: inout RenewalState) -> RenewalTransition {
        switch step {
        case .readOldKey: return readOldKey(&s)
        case .recordIntent: return recordIntent(&s)
        case .create: return create(&s)
        case .checkAnswer: return checkAnswer(&s)
        case .sealStaged: return sealStaged(&s)
        case .verify: return verify(&s)
        case .promote: return promote(&s)
        case .disableOld: return disableOld(&s)
        }
    }

    func fail(_ s: RenewalState, _ message: String) -> RenewalTransition {
        var item = s.item
        item.kind = .failed
        item.message = message
        item.notes = []     // what to copy to a new key matters only once there is one
        return .done(item)
    }

    // MARK: - The steps

    func readOldKey(_ s: inout RenewalState) -> RenewalTransition {
        let t = s.token
        let oldID = t.current.console.id!
        let old: ConsoleKey
        do { old = try console.get(oldID).key } catch {
            return fail(s, error.status == 404 ? "its console key \(oldID) no longer exists: the token is dead; create a key and `vault rotate` it in"
                                               : "reading its console key failed: \(error); nothing changed")
        }
        guard old.enabled else { return fail(s, "its console key \(old.name) is disabled in the console: the token is dead; nothing changed") }
        // The id must still name the key this version was linked to: a mistyped or reused id
        // would otherwise copy another key's role and disable that key.
        guard let stored = t.current.console.name else {
            return fail(s, "the link to console key \(oldID) has no console name to check it by: make sure that key is the one whose value \(t.name) holds, then store the name you gave it in the console (\(Shell.command("vault", "edit", t.name, "--console-name", "NAME"))); nothing changed")
        }
        guard stored == old.name else {
            return fail(s, "console key \(oldID) is named \(old.name), but the vault linked it as \(stored): if it is the right key, \(Shell.command("vault", "edit", t.name, "--console-name=" + old.name)); nothing changed")
        }
        // The new key's role: --role when given; else the vault's, which must be the console
        // key's — except that a legacy Master Administrator key's successor gets the role the
        // vault names (new keys cannot have Master Administrator since 2025-10-27; a person
        // set the vault's role to its replacement with `vault edit --role`, never an escalation).
        if let asked = request.role {
            s.role = asked
        } else {
            guard let mine = t.role else {
                return fail(s, "\(t.name) has no role in the vault to give the new key: \(Shell.command("vault", "edit", t.name, "--role=" + (old.role ?? "ROLE"))) with the role you chose in the console, or \(Shell.command("vault", "renew", t.name, "--role", "ROLE")); nothing changed")
            }
            if let theirs = old.role, theirs != mine, theirs != Self.legacyRole {
                return fail(s, "console key \(old.name) has the role \(theirs), but the vault says \(mine): if it is the right key, \(Shell.command("vault", "edit", t.name, "--role=" + (theirs))), or give the new key a role with \(Shell.command("vault", "renew", t.name, "--role", "ROLE")); nothing changed")
            }
            s.role = mine
        }
        s.old = old
        s.months = RenewalPlanner.months(t, request, now: now)
        s.planned = ConsoleNaming.planned(from: old.name, now: now)
        if old.restrictionFields.isEmpty {
            s.item.notes.append("IP allow-list: Vision One's API shows none and has no field to set one; if \(old.name) had one in the console, set the same on the new key (Administration > API Keys)")
        } else {
            s.item.notes.append("\(old.name) has \(old.restrictionFields.joined(separator: ", ")) (an IP allow-list?) that v1vault cannot copy: set the same on the new key in Administration > API Keys before the old one is disabled")
        }
        return .next(.recordIntent)
    }

    static let legacyRole = "Master Administrator"

    func recordIntent(_ s: inout RenewalState) -> RenewalTransition {
        let t = s.token
        do {
            s.intent = try vault.recordIntent(token: t.name, planned: s.planned, baseURL: t.baseURL, months: s.months, role: s.role,
                                              disableAfter: request.disableAfter)
        } catch {
            return fail(s, "could not record the renewal intent: \(error); nothing changed")
        }
        return .next(.create)
    }

    func create(_ s: inout RenewalState) -> RenewalTransition {
        let created: CreatedConsoleKey
        do {
            created = try console.create(ConsoleCreateRequest(name: s.planned, role: s.role, months: s.months, description: s.old?.description))
        } catch {
            return createFailed(&s, error)
        }
        s.newID = created.id
        s.newExpires = s.months == 0 ? nil : created.expires
        s.value = .single(created.value)
        s.item.consoleName = s.planned
        s.item.consoleID = created.id
        return .next(.checkAnswer)
    }

    func checkAnswer(_ s: inout RenewalState) -> RenewalTransition {
        do { try vault.checkCreated(id: s.newID!, value: s.value!, expires: s.newExpires, months: s.months, token: s.token.name, console: console) } catch {
            s.value = nil
            return createFailed(&s, error)
        }
        return .next(.sealStaged)
    }

    /// The create failed, or its answer was refused: a definite refusal created nothing (the
    /// intent is dropped, nothing deleted); otherwise the key may exist and is looked for now
    /// (and by later runs while the intent stays).
    func createFailed(_ s: inout RenewalState, _ error: ConsoleFailure) -> RenewalTransition {
        let intent = s.intent!
        vault.recordFailure("console-create-result", subjects: [AuditSubject(name: s.token.name)],
                            details: ["console_name": s.planned, "intent": "\(intent.id)"], error: .consoleFailed(detail: error.description))
        if error.definite && s.newID == nil {
            let dropped = resolver.drop(intent, why: "the console refused the create")
            return fail(s, roleRefusal(s, error) ?? "creating \(s.planned) failed: \(error); the old version stays current (\(dropped.message))")
        }
        let cleanup = resolver.resolve(intent, verifyOnly: false, sameRun: true, createdID: s.newID)
        return fail(s, "creating \(s.planned) failed: \(error); the old version stays current (\(cleanup.message))")
    }

    /// What to say when the console refused the create and the role may be why.
    func roleRefusal(_ s: RenewalState, _ error: ConsoleFailure) -> String? {
        guard let status = error.status, [400, 403, 422].contains(status) else { return nil }
        let name = s.token.name
        let fix = "give the key a custom role that may be assigned to API keys (Administration > User Roles): \(Shell.command("vault", "renew", name, "--role", "ROLE")), or \(Shell.command("vault", "edit", name, "--role", "ROLE")) then \(Shell.command("vault", "renew", name)); nothing was created, disabled or deleted"
        if s.role == Self.legacyRole {
            return "the console refused to create a key with the role Master Administrator (HTTP \(status)\(error.code.map { " \($0)" } ?? "")): since 2025-10-27 new API keys cannot have that role; \(fix)"
        }
        return "the console refused to create a key with the role \(s.role) (\(error)): if that role may not be assigned to API keys, \(fix)"
    }

    func sealStaged(_ s: inout RenewalState) -> RenewalTransition {
        do {
            s.staged = try vault.sealStaged(s.token.name, value: s.value!, link: ConsoleLink(id: s.newID, name: s.planned, state: .enabled),
                                            expires: s.newExpires, intent: s.intent!.id)
        } catch {
            // The value is lost with this process: the intent stays, so the orphan is removed
            // by this call or the next run.
            s.value = nil
            let cleanup = resolver.resolve(s.intent!, verifyOnly: false, sameRun: true, createdID: s.newID)
            return fail(s, "sealing the new key failed: \(error); the old version stays current (\(cleanup.message))")
        }
        s.item.toVersion = s.staged
        s.item.expires = s.newExpires
        return .next(.verify)
    }

    func verify(_ s: inout RenewalState) -> RenewalTransition {
        let name = s.token.name, staged = s.staged!
        let deadline = Date().addingTimeInterval(request.verifyTimeout)
        var delay = 0.25
        var verified: Result<Void, ConsoleFailure>
        while true {
            verified = s.value!.withUnsafeBytes { console.connectivity($0) }
            // Retried while the key propagates (401), the service is busy (429, 5xx) or the
            // network fails; any other answer is final.
            guard case .failure(let f) = verified, f.network != nil || [401, 429].contains(f.status ?? 0) || (500...599).contains(f.status ?? 0),
                  Date().addingTimeInterval(delay) < deadline else { break }
            Thread.sleep(forTimeInterval: delay)
            delay = min(delay * 2, 5)
        }
        try? vault.record("renew-verify", subjects: [AuditSubject(name: name, version: staged)],
                          details: ["result": { if case .failure(let f) = verified { return f.description }; return "ok" }()])
        if case .failure(let f) = verified {
            // The new key does not work: disable it, keep the old version current.
            let disabled = retirer.write("disable", name: name, version: staged, id: s.newID!) { () throws(ConsoleFailure) in try console.setStatus(s.newID!, enabled: false) }
            if disabled == nil { try? vault.markConsole(name, version: staged, state: .disabled, step: "verify-failed") }
            return fail(s, "the new key \(s.planned) did not pass the connectivity check (\(f)); version \(s.token.current.version) stays current; the new key was "
                        + (disabled == nil ? "disabled" : "NOT disabled (\(disabled!)): disable it in the console"))
        }
        return .next(.promote)
    }

    func promote(_ s: inout RenewalState) -> RenewalTransition {
        let name = s.token.name, staged = s.staged!
        do { try vault.promote(name, staged: staged, over: s.token.current.version) } catch {
            if case .stateChanged = error {
                let disabled = retirer.write("disable", name: name, version: staged, id: s.newID!) { () throws(ConsoleFailure) in try console.setStatus(s.newID!, enabled: false) }
                if disabled == nil { try? vault.markConsole(name, version: staged, state: .disabled, step: "superseded") }
                return fail(s, "\(name) was rotated or rolled back while it renewed: the new key \(s.planned) was "
                            + (disabled == nil ? "disabled" : "NOT disabled (\(disabled!))") + "; the current version stays")
            }
            return fail(s, "making version \(staged) current failed: \(error); version \(s.token.current.version) stays current, `vault renew` resumes")
        }
        if let role = request.role, role != s.token.role {
            do { try vault.edit(name, TokenEdit(role: .some(role))) } catch {
                s.item.notes.append("storing the new role \(role) failed (\(error)): \(Shell.command("vault", "edit", name, "--role=" + (role)))")
            }
        }
        return .next(.disableOld)
    }

    func disableOld(_ s: inout RenewalState) -> RenewalTransition {
        var item = s.item
        item.kind = .renewed
        let oldLink = s.token.current.console
        let oldName = oldLink.name ?? oldLink.id ?? ""
        guard let oldID = oldLink.id else {
            item.message = "renewed: version \(s.staged!) is current"
            return .done(item)
        }
        if request.disableAfter > 0 {
            let at = now.addingTimeInterval(request.disableAfter)
            item.oldKeyDisableAfter = at
            item.message = "renewed: version \(s.staged!) is current; the old key \(oldName) stays enabled until \(Timestamp.iso(at)) for consumers to switch (the first run after that disables it), then is deleted \(Self.span(request.deleteAfter)) later"
            return .done(item)
        }
        if let error = retirer.write("disable", name: s.token.name, version: s.token.current.version, id: oldID, { () throws(ConsoleFailure) in try console.setStatus(oldID, enabled: false) }) {
            item.message = "renewed; disabling the old key failed (\(error)): " + (error.refusesEdit ? retirer.refusedEdit(s.token.name, s.token.current.version, oldName, oldID, error) : "the next `vault renew` retries")
            if error.refusesEdit { item.kind = .failed }
            return .done(item)
        }
        try? vault.markConsole(s.token.name, version: s.token.current.version, state: .disabled, step: "disabled-old")
        item.message = "renewed: version \(s.staged!) is current; the old key \(oldName) is disabled and will be deleted after \(Self.span(request.deleteAfter))"
        return .done(item)
    }

    static func span(_ t: TimeInterval) -> String {
        t.truncatingRemainder(dividingBy: 86400) == 0 ? "\(Int(t / 86400))d" : t.truncatingRemainder(dividingBy: 3600) == 0 ? "\(Int(t / 3600))h" : "\(Int(t))s"
    }

    var resolver: IntentResolver { IntentResolver(vault: vault, console: console, facts: facts, request: request) }
    var retirer: OldKeyRetirer { OldKeyRetirer(vault: vault, console: console, request: request) }
}
