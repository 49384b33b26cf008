import Foundation
import VaultFormat
import VisionOne

/// Disables and deletes the console keys of retired versions, and writes every console change
/// to the audit log before it is made and its outcome after.
struct OldKeyRetirer {
    let vault: UnlockedVault
    let console: any ConsoleClient
    let request: RenewRequest

    /// Disables (`to: .disabled`) or deletes (`to: .deleted`) the console key of a retired
    /// version, then records it on the version. A key already gone counts as deleted; a key
    /// enabled again in the console is not deleted; a key the console will not let anyone
    /// change is reported once, with what to do in the console, and not tried again.
    func retire(_ t: LinkedToken, _ v: VersionSnapshot, to state: ConsoleLink.State) -> RenewReport.Item {
        let disabling = state == .disabled
        var item = RenewReport.Item(kind: disabling ? .disabledOld : .deletedOld, name: t.name, fromVersion: v.version,
                                    consoleName: v.console.name, consoleID: v.console.id, message: "")
        let id = v.console.id!
        var recorded = state
        // Fail safe against a change since the run began: never an id a current or staged version is.
        if vault.consoleKeyInUse(id, besides: t.name, version: v.version) {
            item.kind = .skipped
            item.message = "console key \(v.console.name ?? id) of retired version \(v.version) is also the key of a version in use: left alone"
            return item
        }
        if !disabling {
            // Delete only what is still disabled: a key someone enabled again is left alone.
            do throws(ConsoleFailure) {
                let (key, _) = try console.get(id)
                if key.enabled {
                    item.kind = .skipped
                    item.message = "console key \(key.name) of retired version \(v.version) was enabled again in the console: not deleted (`vault sync` lists it)"
                    return item
                }
                guard key.status == "disabled" else {
                    item.kind = .skipped
                    item.message = "console key \(key.name) of retired version \(v.version) has the status \(key.status), not disabled: not deleted"
                    return item
                }
            } catch {
                if error.status != 404 {
                    item.kind = .failed; item.message = "reading the console key of retired version \(v.version) failed: \(error)"; return item
                }
            }
        }
        if let e = write(disabling ? "disable" : "delete", name: t.name, version: v.version, id: id, { () throws(ConsoleFailure) in
            if disabling {
                do throws(ConsoleFailure) { try console.setStatus(id, enabled: false) } catch {
                    guard error.status == 404 else { throw error }
                    recorded = .deleted   // deleted in the console already
                }
            } else {
                guard try console.delete([id])[id] == true else { throw ConsoleFailure(call: "delete", host: console.host, code: "not deleted") }
            }
        }) {
            item.kind = .failed
            if disabling && e.refusesEdit {
                item.message = "disabling the console key of retired version \(v.version) failed: \(refusedEdit(t.name, v.version, v.console.name ?? id, id, e))"
            } else {
                item.message = "\(disabling ? "disabling" : "deleting") the console key of retired version \(v.version) failed: \(e)"
            }
            return item
        }
        do { try vault.markConsole(t.name, version: v.version, state: recorded, step: disabling ? "disabled-old" : "deleted-old") } catch {
            item.kind = .failed; item.message = "recording the console key's new state failed: \(error)"; return item
        }
        item.message = "\(recorded == .deleted ? "deleted" : "disabled") the console key of retired version \(v.version)"
        return item
    }

    /// The console refused to change a key (keys moved from the old User Accounts app cannot be
    /// edited): recorded (`console-edit-refused`) so later runs do not try again, and said once
    /// with the way to do it by hand.
    func refusedEdit(_ name: String, _ version: Int, _ keyName: String, _ id: String, _ error: ConsoleFailure) -> String {
        try? vault.record("console-edit-refused", subjects: [AuditSubject(name: name, version: version)],
                          details: ["console_id": id, "base_url": console.baseURL])
        return "\(error): the console does not let this key be changed (keys moved from the old User Accounts app cannot be edited through the API). Disable or delete \(keyName) by hand in Administration > API Keys once nothing uses it; v1vault will not try again, and `vault sync` lists it while it is enabled"
    }

    /// A console write audited before it is made (`console-<verb>`) and its outcome after
    /// (`console-<verb>-result`). Returns the failure, nil on success.
    func write(_ verb: String, name: String?, version: Int?, id: String, _ call: () throws(ConsoleFailure) -> Void) -> ConsoleFailure? {
        let subjects = name.map { [AuditSubject(name: $0, version: version)] } ?? []
        do { try vault.record("console-\(verb)", subjects: subjects, details: ["console_id": id, "base_url": console.baseURL]) } catch {
            return ConsoleFailure(call: verb, host: console.host, network: "audit row not written: \(error)")
        }
        do {
            try call()
            try? vault.record("console-\(verb)-result", subjects: subjects, details: ["console_id": id])
            return nil
        } catch {
            try? vault.record("console-\(verb)-result", subjects: subjects, details: ["console_id": id], error: .consoleFailed(detail: error.description))
            return error
        }
    }
}
