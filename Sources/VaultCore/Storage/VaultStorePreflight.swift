/// Checks a CLI can run before asking for a passphrase, so the user is not prompted for
/// nothing.
public enum VaultStorePreflight {
    /// Throws unless a new vault file can be created at `path`.
    public static func checkCreatable(_ path: String) throws(VaultError) {
        try VaultStore.checkParent(of: path)
    }
}
