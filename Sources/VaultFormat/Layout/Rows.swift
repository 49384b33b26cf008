import Foundation

// The rows of the vault file as values: what each table holds and what its MACs cover
// (SECURITY.md, "The file"). Reading and writing them is VaultStorage's (Records.swift there
// decodes each column with its exact storage class); nothing here knows SQLite.

/// The single `vault_header` row.
package struct VaultHeaderRecord: Sendable {
    package static let formatVersion = 1

    package var id: Int64 = 1
    package var formatVersion: Int
    package var vaultId: Data
    package var kdfAlgorithm: String
    package var kdfOps: Int64
    package var kdfMem: Int64
    package var kdfSalt: Data
    package var kdfTargetMs: Int64?
    package var wrapNonce: Data
    package var wrappedKey: Data
    package var createdAt: Int64
    package var updatedAt: Int64

    package var kdfParameters: KDFParameters? {
        guard kdfOps > 0, kdfMem > 0 else { return nil }
        return KDFParameters(opsLimit: UInt64(kdfOps), memLimit: UInt64(kdfMem))
    }

    package init(id: Int64 = 1, formatVersion: Int, vaultId: Data, kdfAlgorithm: String, kdfOps: Int64, kdfMem: Int64, kdfSalt: Data, kdfTargetMs: Int64?, wrapNonce: Data, wrappedKey: Data, createdAt: Int64, updatedAt: Int64) {
        self.id = id
        self.formatVersion = formatVersion
        self.vaultId = vaultId
        self.kdfAlgorithm = kdfAlgorithm
        self.kdfOps = kdfOps
        self.kdfMem = kdfMem
        self.kdfSalt = kdfSalt
        self.kdfTargetMs = kdfTargetMs
        self.wrapNonce = wrapNonce
        self.wrappedKey = wrappedKey
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// One row of `tokens`: a named Vision One API key and its metadata.
package struct TokenRecord: Sendable {
    package var id: Int64?
    package var name: String
    package var region: String?
    package var baseUrl: String
    package var role: String?
    package var description: String?
    package var permissions: String
    package var createdAt: Int64
    package var metaMac: Data?
    /// The audit row that last changed this token's versions, and the MAC over them (schema 3).
    package var stateSeq: Int64? = nil
    package var stateMac: Data? = nil
    /// The expiry warning window in days (nil: the default rule) and whether this token is its
    /// base URL's manager key (schema 5; covered by the metadata MAC).
    package var warnDays: Int? = nil
    package var manager = false

    package var permissionList: [String] {
        (try? JSONDecoder().decode([String].self, from: Data(permissions.utf8))) ?? []
    }

    package init(id: Int64?, name: String, region: String?, baseUrl: String, role: String?, description: String?, permissions: String, createdAt: Int64, metaMac: Data?, stateSeq: Int64? = nil, stateMac: Data? = nil, warnDays: Int? = nil, manager: Bool = false) {
        self.id = id
        self.name = name
        self.region = region
        self.baseUrl = baseUrl
        self.role = role
        self.description = description
        self.permissions = permissions
        self.createdAt = createdAt
        self.metaMac = metaMac
        self.stateSeq = stateSeq
        self.stateMac = stateMac
        self.warnDays = warnDays
        self.manager = manager
    }
}

/// One row of `token_versions`: a sealed secret and its lifetime.
package struct TokenVersionRecord: Sendable {
    package var tokenId: Int64
    package var version: Int
    package var nonce: Data
    package var ciphertext: Data
    package var createdAt: Int64
    package var expiresAt: Int64?
    package var retiredAt: Int64?
    /// The console key this version is (schema 5; covered by the state MAC).
    package var console = ConsoleLink()


    package init(tokenId: Int64, version: Int, nonce: Data, ciphertext: Data, createdAt: Int64, expiresAt: Int64?, retiredAt: Int64?, console: ConsoleLink = ConsoleLink()) {
        self.tokenId = tokenId
        self.version = version
        self.nonce = nonce
        self.ciphertext = ciphertext
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.retiredAt = retiredAt
        self.console = console
    }
}

/// One row of `audit_log`.
package struct AuditRecord: Sendable {
    package var seq: Int64?
    package var at: String
    package var action: String
    package var tokens: String
    package var outcome: String
    package var reason: String?
    package var details: String
    package var osUser: String
    package var uid: Int64
    package var host: String
    package var pid: Int64
    package var mac: Data?


    package init(seq: Int64?, at: String, action: String, tokens: String, outcome: String, reason: String?, details: String, osUser: String, uid: Int64, host: String, pid: Int64, mac: Data?) {
        self.seq = seq
        self.at = at
        self.action = action
        self.tokens = tokens
        self.outcome = outcome
        self.reason = reason
        self.details = details
        self.osUser = osUser
        self.uid = uid
        self.host = host
        self.pid = pid
        self.mac = mac
    }
}
