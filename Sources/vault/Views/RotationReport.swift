import ArgumentParser
import Foundation
import VaultCore
import VaultFormat

enum RotationReport {
    static let walBusy = "another process has the vault open: the destroyed ciphertext may remain in the -wal file until it closes the vault"

    static func json(name: String, _ r: RotationResult, exportedFiles: [String]?) {
        func version(_ v: TokenVersionInfo) -> JSONValue { .object([("version", .int(v.version)), ("expires", .date(v.expires))]) }
        var fields: [(String, JSONValue)] = [("name", .string(name)), ("current", version(r.current)), ("previous", version(r.previous)),
                                             ("pruned", .array(r.pruned.map { .int($0) })), ("wal_purged", .bool(r.walPurged))]
        if let exportedFiles { fields.append(("exported_files", .array(exportedFiles.map { .string($0) }))) }
        Output.result(fields)
        if !r.walPurged { Output.warn(RotationReport.walBusy) }
    }

    static func print(name: String, _ r: RotationResult, verb: String, source: Int? = nil) {
        let from = source.map { " (secret of version \($0))" } ?? ""
        Output.done("\(verb) \(name): version \(r.current.version)\(from) is current, expires \(Output.expiry(r.current.expires)); version \(r.previous.version) retired")
        if !r.pruned.isEmpty {
            Output.done("destroyed old version\(r.pruned.count == 1 ? "" : "s") \(r.pruned.map(String.init).joined(separator: ", "))")
            if !r.walPurged { Output.warn(RotationReport.walBusy) }
        }
        let when = r.previous.expires.map { "it expires on \(Timestamp.day($0))" } ?? "it never expires"
        let key = r.previous.consoleName.map { "the old console key \($0) (version \(r.previous.version))" } ?? "the old key (version \(r.previous.version))"
        Output.hint("delete or disable \(key) in the Vision One console (Administration > API Keys); \(when)")
    }
}
