import ArgumentParser
import Foundation
import VaultCore
import VaultFormat

struct Status: ParsableCommand, UsesGlobalOptions {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Say whether this vault is unlocked (`vault unlock`) and for how long.",
        discussion: """
            Exit 0 when unlocked, 18 when locked, 19 when this system cannot keep sessions. Needs \
            no passphrase; writes nothing (a session that no longer opens the vault is dropped).
            """)

    @OptionGroup var global: GlobalOptions

    @Flag(name: .customLong("json"), help: "One JSON object: vault, state, expires, seconds_left, keyring (session, user-session or user), reason.")
    var json = false

    func run() throws {
        let vault = try global.openVault()
        let status = try vault.sessionStatus()
        if case .unavailable(let error) = status { throw error }
        let now = Date()
        if json {
            var fields: [(String, JSONValue)] = [("vault", .string(vault.path))]
            switch status {
            case .unlocked(let info):
                fields += [("state", .string("unlocked")), ("expires", .date(info.expires)),
                           ("seconds_left", .int(max(0, Int(info.expires.timeIntervalSince(now).rounded(.up))))),
                           ("keyring", .string(info.keyring.rawValue))]
            case .stale(let reason, let dropped):
                let why = (dropped ? "a bad session key was dropped: " : "a session key of this vault does not apply: ") + reason
                fields += [("state", .string("locked")), ("reason", .string(why))]
            default:
                fields += [("state", .string("locked"))]
            }
            Output.result(fields)
        } else {
            switch status {
            case .unlocked(let info):
                let ring = switch info.keyring {
                case .session: "this login session's keyring"
                case .userSession: "uid \(getuid())'s default user-session keyring"
                case .user: "uid \(getuid())'s user keyring (--scope user: every login)"
                }
                Output.line("unlocked until \(Timestamp.iso(info.expires)) (\(SessionText.length(info.expires.timeIntervalSince(now))) left), in \(ring)")
            case .stale(let reason, true):
                Output.line("locked: a bad session key was dropped (\(reason))")
            case .stale(let reason, false):
                Output.line(Output.spelled("locked: the session key of this vault id does not open this file (\(reason)); `vault lock` removes it"))
            default:
                Output.line(Output.spelled("locked: no session (`vault unlock` starts one)"))
            }
        }
        if case .unlocked = status { return }
        throw ExitCode(ExitStatus.locked)
    }
}
