import Foundation
import VaultCore
import VaultFormat

/// The hint line under "error: …". A hint that names a command or a flag belongs to the CLI
/// (#23), so those are written here, keyed by the error's case; every other case still takes
/// the library's `VaultError.hint` until it moves here too.
extension VaultError {
    var advice: String? {
        switch self {
        case .vaultNotFound:
            return "create one with `vault init`, or point --vault / V1VAULT_PATH at an existing vault"
        case .vaultExists:
            return "choose another path with --vault, or remove the old vault yourself if you really mean to"
        case .schemaTampered:
            return "the file was changed outside v1vault; `vault doctor --no-unlock` lists the differences; restore from a backup"
        case .tokenNotFound:
            return "`vault list` shows the stored names"
        case .versionNotFound(let name, _):
            return "\(Shell.command("vault", "history", name)) shows the kept versions"
        case .noManager:
            return "mark a stored key that has the API Keys permission: `vault manager set NAME`"
        case .tokenExists(let name):
            return "choose another name, or \(Shell.command("vault", "rotate", name)) to store a new version of that token"
        case .notShapedLikeKey:
            return "check what was copied (not the key's id, a URL or a quoted string); --force stores it anyway"
        case .tokenExpired:
            return "create a new key in the Vision One console and `vault rotate` it in, or pass --allow-expired"
        case .stateUnsealed(let name):
            return "if this vault was just upgraded from an older v1vault, check \(Shell.command("vault", "history", name)) and vouch with `vault doctor --seal-metadata`; otherwise the file was edited or rolled back: restore from a backup"
        case .metadataUnsealed:
            return "check its base URL with `vault list`; if it is right, `vault doctor --seal-metadata` vouches for it"
        case .tokenRejected:
            return "nothing was stored; check that you copied the whole key and chose its region (--region)"
        case .checkIncomplete:
            return "nothing was stored; retry, or leave out --check to store it unverified"
        case .clipboardUnavailable(_, let forced):
            return forced == nil
                ? "on a desktop, install wl-clipboard (Wayland) or xclip (X11); over SSH, run it in a terminal that takes OSC 52; `vault get NAME` prints the key instead"
                : "leave out --via to use whatever works here, or `vault get NAME` to print the key"
        case .recipientNotFound:
            return "`vault recipient list` shows the recipients"
        case .dropNotForThisVault:
            return "`vault identity` prints this vault's recipient: the sender must `vault recipient add` it and share again"
        case .dropUnverified:
            return "add the sender with its signing key (`vault identity` on its host): `vault recipient add NAME age1… --signing-key v1vsig1… --trust`"
        case .dropUntrusted(_, let sender):
            return "check its signing key with its owner, then " + Shell.command("vault", "recipient", "trust", sender)
        case .dropConflict(_, let token, _):
            return "the key here stays; if the sender's should replace it, remove it here first (" + Shell.command("vault", "remove", token) + "), otherwise ask the sender to share it under another name"
        default:
            return hint
        }
    }
}
