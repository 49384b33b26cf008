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

    init(name: String, version: Int, baseURL: String, region: Region?, expires: Date?, secret: SecretView, warning: String?,
         role: String? = nil, description: String? = nil, permissions: [String] = []) {
        self.name = name; self.version = version; self.baseURL = baseURL; self.region = region
        self.expires = expires; self.secret = secret; self.warning = warning
        self.role = role; self.description = description; self.permissions = permissions
    }
}
