import Foundation
import VaultFormat
import VaultStorage
import VisionOne

extension UnlockedVault {
    /// Checks the current version of each token against its (authenticated) base URL. The
    /// tokens are released under one `check` audit row written first; each result is then
    /// recorded as a `check-result` row (token, version, outcome, HTTP status — never the token).
    public func check(_ names: [String], checker: ConnectivityChecker, allowExpired: Bool = true) throws(VaultError) -> [CheckResult] {
        let revealed = try revealMany(names.map { ($0, nil) }, allowExpired: allowExpired, action: "check")
        let results = checker.check(revealed.map { .init(name: $0.name, version: $0.version, baseURL: $0.baseURL, token: $0) })
        try recordChecks(results, action: "check-result")
        return results
    }

    /// All token names, for `check --all`.
    public func allNames() throws(VaultError) -> [String] { try vault.store.tokenNames() }

    /// The authenticated base URL of a stored token (for `rotate --check`).
    public func verifiedBaseURL(_ name: String) throws(VaultError) -> String {
        try vault.store.read { db in
            guard let record = try TokenRecord.named(name, db) else {
                throw VaultError.tokenNotFound(name: name)
            }
            try checkMetadata(record)
            return record.baseUrl
        }
    }

    /// Verifies a token that is not stored yet (`add --check`, `rotate --check`). Audited as
    /// `check-new`; throws `tokenRejected` (exit 22) or `checkIncomplete` (exit 23) unless ok.
    public func checkNew(_ name: String, token: borrowing SecureBytes, baseURL: String, checker: ConnectivityChecker) throws(VaultError) -> CheckResult {
        let wrapped = RevealedToken(name: name, version: 0, baseURL: baseURL, region: nil, expires: nil, secret: .single(token), warning: nil)
        try record("check-new", subjects: [AuditSubject(name: name)], details: ["base_url": baseURL])
        let result = checker.check([.init(name: name, version: 0, baseURL: baseURL, token: wrapped)])[0]
        try recordChecks([result], action: "check-new-result")
        if result.rejected {
            throw .tokenRejected(name: name, outcome: result.outcome.rawValue, status: result.httpStatus, code: result.errorCode)
        }
        guard result.outcome == .ok else {
            let host = URLComponents(string: baseURL)?.host.map { "host \($0)" }
            throw .checkIncomplete(name: name, outcome: result.outcome.rawValue,
                                   detail: [host, result.httpStatus.map { "HTTP \($0)" }, result.message].compactMap { $0 }.joined(separator: ", "))
        }
        return result
    }

    func recordChecks(_ results: [CheckResult], action: String) throws(VaultError) {
        try vault.store.write { db in
            for r in results {
                var details = ["outcome": r.outcome.rawValue, "base_url": r.baseURL]
                if let s = r.httpStatus { details["http_status"] = "\(s)" }
                if let c = r.errorCode { details["error_code"] = c }
                if let t = r.traceID { details["trace_id"] = t }
                try appendSealed(db, action: action, subjects: [AuditSubject(name: r.name, version: r.version == 0 ? nil : r.version)],
                                 details: details, outcome: r.outcome == .ok ? "ok" : "error",
                                 reason: r.outcome == .ok ? nil : r.outcome.rawValue + (r.message.map { ": \($0)" } ?? ""))
            }
        }
    }
}
