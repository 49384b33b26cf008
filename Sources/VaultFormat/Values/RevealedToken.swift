import Foundation

/// A revealed secret: the bytes in secure memory plus what the caller must know about them.
public final class RevealedToken {
    public let name: String
    public let version: Int
    public let baseURL: String
    public let region: Region?
    public let expires: Date?
    public let secret: SecretView
    /// Set when the version expires within the warning window (print it on stderr).
    public let warning: String?
    /// Role, description and permissions (authenticated with the rest of the metadata).
    public let role: String?
    public let description: String?
    public let permissions: [String]
    /// The revealed version's console link (`--console-id`, `--console-name`, and the key's
    /// state: enabled, disabled or deleted), read and authenticated in the same transaction as
    /// the secret, so the two always belong together. Plain text, so that this file builds
    /// without the storage types (scripts/fuzz).
    public let consoleID: String?
    public let consoleName: String?
    public let consoleState: String?
    /// Whether the token is its base URL's manager key (`vault manager set`; metadata MAC).
    public let manager: Bool

    package init(name: String, version: Int, baseURL: String, region: Region?, expires: Date?, secret: SecretView, warning: String?,
         role: String? = nil, description: String? = nil, permissions: [String] = [],
         console: (id: String?, name: String?, state: String?) = (nil, nil, nil), manager: Bool = false) {
        self.name = name; self.version = version; self.baseURL = baseURL; self.region = region
        self.expires = expires; self.secret = secret; self.warning = warning
        self.role = role; self.description = description; self.permissions = permissions
        self.consoleID = console.id; self.consoleName = console.name; self.consoleState = console.state; self.manager = manager
    }
}
