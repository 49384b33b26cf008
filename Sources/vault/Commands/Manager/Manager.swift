import ArgumentParser
import Foundation
import VaultCore

struct Manager: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "manager",
        abstract: "Mark the stored key that calls Vision One's API-keys API for its region.",
        discussion: """
            `renew` and `sync` call Administration > API Keys as an API with the manager key of \
            the token's base URL: a key whose role has the API Keys permission. Since 2025-10-27 \
            the console does not give new API keys the Master Administrator role (older keys keep \
            it), so a new manager key needs a custom role (Administration > User Roles) with the \
            API Keys permission that may be assigned to API keys — and renewing a legacy Master \
            Administrator manager needs `vault renew NAME --role ROLE` once. One manager per base \
            URL; it can renew itself (last in its run).
            """,
        subcommands: [ManagerSet.self, ManagerShow.self, ManagerUnset.self],
        defaultSubcommand: ManagerShow.self)
}
