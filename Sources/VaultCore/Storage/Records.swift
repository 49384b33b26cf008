import Foundation
import GRDB

/// Records whose Swift properties are camelCase and whose columns are snake_case.
protocol SnakeCaseRecord: FetchableRecord, EncodableRecord {}

extension SnakeCaseRecord {
    static var databaseColumnDecodingStrategy: DatabaseColumnDecodingStrategy { .convertFromSnakeCase }
    static var databaseColumnEncodingStrategy: DatabaseColumnEncodingStrategy { .convertToSnakeCase }
}

/// The single `vault_header` row.
struct VaultHeaderRecord: Codable, SnakeCaseRecord, PersistableRecord {
    static let databaseTableName = "vault_header"
    static let formatVersion = 1

    var id: Int64 = 1
    var formatVersion: Int
    var vaultId: Data
    var kdfAlgorithm: String
    var kdfOps: Int64
    var kdfMem: Int64
    var kdfSalt: Data
    var kdfTargetMs: Int64?
    var wrapNonce: Data
    var wrappedKey: Data
    var createdAt: Int64
    var updatedAt: Int64

    enum Columns {
        static let wrapNonce = Column("wrap_nonce")
    }

    var kdfParameters: KDFParameters? {
        guard kdfOps > 0, kdfMem > 0 else { return nil }
        return KDFParameters(opsLimit: UInt64(kdfOps), memLimit: UInt64(kdfMem))
    }
}

/// One row of `tokens`: a named Vision One API key and its metadata.
struct TokenRecord: Codable, SnakeCaseRecord, MutablePersistableRecord {
    static let databaseTableName = "tokens"
    static let versions = hasMany(TokenVersionRecord.self, using: ForeignKey(["token_id"]))

    var id: Int64?
    var name: String
    var region: String?
    var baseUrl: String
    var role: String?
    var description: String?
    var permissions: String
    var createdAt: Int64
    var metaMac: Data?

    enum Columns {
        static let id = Column("id")
        static let name = Column("name")
        static let metaMac = Column("meta_mac")
    }

    mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }

    var permissionList: [String] {
        (try? JSONDecoder().decode([String].self, from: Data(permissions.utf8))) ?? []
    }
}

/// One row of `token_versions`: a sealed secret and its lifetime.
struct TokenVersionRecord: Codable, SnakeCaseRecord, PersistableRecord {
    static let databaseTableName = "token_versions"

    var tokenId: Int64
    var version: Int
    var nonce: Data
    var ciphertext: Data
    var createdAt: Int64
    var expiresAt: Int64?
    var retiredAt: Int64?

    enum Columns {
        static let tokenId = Column("token_id")
        static let version = Column("version")
        static let expiresAt = Column("expires_at")
        static let retiredAt = Column("retired_at")
    }

    static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase
}

/// One row of `audit_log`.
struct AuditRecord: Codable, SnakeCaseRecord, MutablePersistableRecord {
    static let databaseTableName = "audit_log"

    var seq: Int64?
    var at: String
    var action: String
    var tokens: String
    var outcome: String
    var reason: String?
    var details: String
    var osUser: String
    var uid: Int64
    var host: String
    var pid: Int64
    var mac: Data?

    enum Columns {
        static let seq = Column("seq")
        static let mac = Column("mac")
    }

    mutating func didInsert(_ inserted: InsertionSuccess) { seq = inserted.rowID }
}
