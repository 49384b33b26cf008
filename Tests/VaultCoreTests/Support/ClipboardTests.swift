import Foundation
import Testing
@testable import VaultCore
@testable import VaultFormat

@Suite("clipboard: method order, OSC 52 encoding, the clearer's fingerprint, name globs (in process)")
struct ClipboardTests {
    func secure(_ s: String) -> SecureBytes {
        var out = SecureBytes(capacity: s.utf8.count, empty: true)
        out.append(s)
        return out
    }

    func text(_ b: borrowing SecureBytes) -> String { b.withUnsafeBytes { String(decoding: $0, as: UTF8.self) } }

    @Test("base64 in secure memory matches RFC 4648's vectors (with padding)")
    func base64() {
        for (plain, encoded) in [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy")] {
            #expect(text(secure(plain).base64()) == encoded, "\(plain)")
        }
    }

    @Test("the fingerprint recognises the same value under its key, and only that value")
    func fingerprint() {
        let token = secure("eyJ.a.b")
        let print = token.fingerprint()
        #expect(print.count == 64)
        let key = Array(print[0..<32])
        #expect(SecureBytes.fingerprint(of: secure("eyJ.a.b"), key: key) == print)
        #expect(SecureBytes.fingerprint(of: secure("eyJ.a.c"), key: key) != print)
        #expect(SecureBytes.fingerprint(of: secure("eyJ.a.b\n"), key: key) != print)
        // A fresh key each time: two copies of one token do not share a fingerprint.
        #expect(token.fingerprint() != print)
    }

    @Test("order: wl-copy, then xclip, each only with its display variable and the tool on PATH; --via forces one")
    func order() throws {
        let dir = TempDir()
        for tool in ["wl-copy", "xclip"] {
            #expect(FileManager.default.createFile(atPath: dir.file(tool), contents: Data("#!/bin/sh\n".utf8), attributes: [.posixPermissions: 0o700]))
        }
        let both = ["PATH": dir.path, "WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0", "TERM": "dumb"]
        #expect(try Clipboard.target(forced: nil, environment: both).method == .wlCopy)
        #expect(try Clipboard.target(forced: .xclip, environment: both).method == .xclip)
        var x = both
        x["WAYLAND_DISPLAY"] = nil
        #expect(try Clipboard.target(forced: nil, environment: x).method == .xclip)
        // A display without the tool is no clipboard.
        let noTool = ["PATH": dir.path + "/none", "WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0", "TERM": "dumb"]
        #expect(throws: VaultError.clipboardUnavailable(reason: "wl-copy is not installed (not on PATH), xclip is not installed (not on PATH), TERM=dumb cannot take OSC 52", forced: nil)) {
            _ = try Clipboard.target(forced: nil, environment: noTool)
        }
    }

    @Test("name globs: fnmatch without flags, case-sensitive")
    func globs() {
        #expect(NamePattern.matches("siem-prod", glob: "siem*"))
        #expect(!NamePattern.matches("Siem-prod", glob: "siem*"))
        #expect(NamePattern.matches("a.b", glob: "a?b") && NamePattern.matches("ci-1", glob: "ci-[0-9]"))
        #expect(!NamePattern.matches("siem", glob: "sie") && NamePattern.matches("siem", glob: "siem"))
        #expect(NamePattern.hasGlob("a*") && NamePattern.hasGlob("a?") && NamePattern.hasGlob("[a]") && !NamePattern.hasGlob("siem-prod"))
    }

    @Test("did you mean: a name that differs only in case wins over a nearer typo")
    func caseOnly() {
        #expect(Suggest.closest(to: "SIEM", in: ["siex", "siem"]) == "siem")
        #expect(Suggest.closest(to: "siem", in: ["siem"]) == nil)
    }
}
