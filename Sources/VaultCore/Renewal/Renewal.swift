import Foundation
import VaultFormat
import VaultStorage
import VisionOne

/// Makes the console client for a base URL and its manager key's value.
public typealias ConsoleFactory = @Sendable (_ baseURL: String, _ manager: SecretView, _ timeout: TimeInterval) -> any ConsoleClient

extension UnlockedVault {
    /// The real console: Vision One over HTTPS.
    public static let httpConsole: ConsoleFactory = { HTTPConsoleClient(baseURL: $0, manager: $1, timeout: $2) }

    /// Runs `vault renew`: plans from the authenticated state (`RenewalPlanner`), then does the
    /// leftovers of earlier runs (intents, staged versions, old keys to disable or delete) and
    /// the renewals asked for, a few at a time. Never throws for one token's failure: it is an
    /// item of the report. Throws only when nothing can start (no vault lock, tampered state).
    public func renew(_ request: RenewRequest, console makeConsole: ConsoleFactory = UnlockedVault.httpConsole) throws(VaultError) -> RenewReport {
        // The role the vault will store once renewed: held to `edit --role`'s rule before any call.
        if let role = request.role {
            guard !role.isEmpty else { throw .invalidInput(reason: "role is empty", hint: nil) }
            _ = try Validate.text(role, field: "role")
        }
        let lock = try vault.store.exclusiveRunLock()
        defer { _ = lock }
        let (tokens, broken) = try linkedTokens()
        for name in request.names where !tokens.contains(where: { $0.name == name }) && !broken.contains(where: { $0.0 == name }) {
            throw VaultError.tokenNotFound(name: name)
        }
        let stored = try intents()
        let intents = stored + (try intentsOnlyInAudit(besides: Set(stored.map(\.id))))
        let facts = try renewalFacts()
        let nowDate = now
        var report = RenewReport()
        for (name, error) in broken where request.names.isEmpty || request.names.contains(name) {
            report.items.append(.init(kind: .failed, name: name, message: error.description))
        }
        let plan = RenewalPlanner.plan(tokens: tokens, intents: intents, request: request, facts: facts, now: nowDate)
        report.items += plan.items
        if plan.jobs.isEmpty { return report }

        // Each manager read and authenticated once per run.
        let managerOf = Dictionary(try managers().map { ($0.baseURL, $0) }, uniquingKeysWith: { a, _ in a })
        if request.dryRun {
            report.items += plan.jobs.map { dryRun($0, manager: managerOf[$0.baseURL], request: request) }
            return report
        }
        // One manager per base URL with work; revealed once, audited as manager-use.
        var consoles: [String: any ConsoleClient] = [:]
        var revealed: [RevealedToken] = []
        for url in Set(plan.jobs.map(\.baseURL)).sorted() {
            do throws(VaultError) {
                guard let m = managerOf[url] else { throw VaultError.noManager(baseURL: url) }
                let token = try reveal(m.name, action: "manager-use", details: ["for": "renew"])
                revealed.append(token)
                consoles[url] = makeConsole(url, token.secret, request.requestTimeout)
            } catch {
                for job in plan.jobs where job.baseURL == url {
                    var message = error.description
                    if case .resolveIntent(let i, _) = job {
                        message = "renewal intent \(i.id) (\(i.plannedName)): \(message); once that is sorted out, or to give up on it, \(Shell.command("vault", "renew", "--forget-intent", "\(i.id)"))"
                    }
                    report.items.append(.init(kind: .failed, name: job.tokenName, message: message))
                }
            }
        }
        let runnable = plan.jobs.filter { consoles[$0.baseURL] != nil }
        let started = Date()
        // The manager renews last, so the others use its old value while it is still enabled.
        var done: [RenewReport.Item] = []
        for batch in [runnable.filter { !$0.renewsManager }, runnable.filter(\.renewsManager)] where !batch.isEmpty {
            done += Parallel.map(batch, width: max(1, min(request.concurrency, 4))) { job in
                guard Date().timeIntervalSince(started) < request.runLimit else {
                    return RenewReport.Item(kind: .failed, name: job.tokenName,
                                            message: "not started: this run took longer than \(Int(request.runLimit / 60)) minutes (the console answers slowly); the next run goes on")
                }
                return self.run(job, console: consoles[job.baseURL]!, request: request, facts: facts)
            }
        }
        report.items += done.sorted { ($0.name ?? "", $0.kind.rawValue) < ($1.name ?? "", $1.kind.rawValue) }
        withExtendedLifetime(revealed) {}
        return report
    }

    func run(_ job: RenewalJob, console: any ConsoleClient, request: RenewRequest, facts: RenewalFacts) -> RenewReport.Item {
        let renewer = Renewer(vault: self, console: console, request: request, facts: facts)
        switch job {
        case .resolveIntent(let intent, let verifyOnly): return renewer.resolver.resolve(intent, verifyOnly: verifyOnly)
        case .resume(let t): return resume(t, renewer: renewer)
        case .disableOld(let t, let v): return renewer.retirer.retire(t, v, to: .disabled)
        case .deleteOld(let t, let v): return renewer.retirer.retire(t, v, to: .deleted)
        case .renew(let t):
            var state = RenewalState(token: t)
            return renewer.run(&state)
        }
    }

    /// A staged version left by an interrupted run: revealed (audited as `renew-resume`),
    /// verified and finished from the `verify` step.
    func resume(_ t: LinkedToken, renewer: Renewer) -> RenewReport.Item {
        let staged = t.staged!
        do {
            let revealed = try reveal(t.name, version: staged.version, allowExpired: false, action: "renew-resume")
            var state = RenewalState(resuming: t, value: revealed.secret)
            return renewer.run(&state, from: .verify)
        } catch {
            var item = RenewalState(token: t).item
            item.toVersion = staged.version
            item.message = "resuming staged version \(staged.version) failed: \(error)"
            return item
        }
    }

    func dryRun(_ job: RenewalJob, manager: ManagerInfo?, request: RenewRequest) -> RenewReport.Item {
        let via = manager.map { " (manager \($0.name))" } ?? " (no manager key for \(job.baseURL): would fail)"
        switch job {
        case .resolveIntent(let i, let verifyOnly):
            return .init(kind: .plan, consoleName: i.plannedName, message: "renewal intent \(i.id): would look for the key an interrupted renew may have created, \(i.plannedName), and "
                         + (verifyOnly ? "report it (verify only: this vault was restored)" : "disable and delete it if the evidence says nobody holds it") + via)
        case .resume(let t):
            return .init(kind: .plan, name: t.name, toVersion: t.staged?.version, message: "would verify staged version \(t.staged!.version) and make it current" + via)
        case .disableOld(let t, let v):
            return .init(kind: .plan, name: t.name, fromVersion: v.version, consoleName: v.console.name, consoleID: v.console.id, message: "would disable the console key of retired version \(v.version)" + via)
        case .deleteOld(let t, let v):
            return .init(kind: .plan, name: t.name, fromVersion: v.version, consoleName: v.console.name, consoleID: v.console.id, message: "would delete the disabled console key of version \(v.version)" + via)
        case .renew(let t):
            let months = RenewalPlanner.months(t, request, now: now)
            let key = t.current.console.name ?? t.current.console.id!
            let role = request.role ?? t.role
            var message = "would create a key with the role \(role.map { "\($0)" } ?? "(none: would fail)") for \(months == 0 ? "no expiry" : "\(months) month\(months == 1 ? "" : "s")"), verify it, make it current and "
                + (request.disableAfter > 0 ? "disable \(key) \(Renewer.span(request.disableAfter)) later" : "disable \(key)") + via
            if role == Renewer.legacyRole {
                message += "; note: since 2025-10-27 the console does not give new API keys the Master Administrator role — pass --role with a custom role that may be assigned to API keys"
            }
            return .init(kind: .plan, name: t.name, fromVersion: t.current.version, toVersion: (t.versions.last?.version ?? 0) + 1,
                         consoleName: t.current.console.name, consoleID: t.current.console.id, expires: t.current.expires, message: message)
        }
    }
}
