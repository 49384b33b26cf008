import Foundation
import Testing
@testable import VaultCore
@testable import VaultFormat

@Suite("the one shell-quoting function for pasteable commands (in process, words checked through /bin/sh)")
struct ShellTests {
    static let hostile = ["x'$(touch PWNED)'", "a b", "$HOME", "`id`", "semi;colon", "new\nline", "it's", "''", "-n", "\\", "*", "ü ñ", "plain-name_1.2"]

    @Test("each word arrives in sh exactly as given, and nothing runs", arguments: hostile)
    func roundTrip(word: String) throws {
        let dir = TempDir()
        let line = Shell.command("vault", "edit", "siem", "--console-name", word)
        #expect(line.hasPrefix("`") && line.hasSuffix("`"))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "vault() { for a in \"$@\"; do printf '%s\\0' \"$a\"; done; }; " + String(line.dropFirst().dropLast())]
        p.currentDirectoryURL = URL(fileURLWithPath: dir.path)
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let words = data.split(separator: 0, omittingEmptySubsequences: false).dropLast().map { String(decoding: $0, as: UTF8.self) }
        #expect(words == ["edit", "siem", "--console-name", word])
        #expect(!FileManager.default.fileExists(atPath: dir.file("PWNED")))
    }

    @Test("safe words stay bare; anything else is single-quoted")
    func shapes() {
        #expect(Shell.quote("siem-connector") == "siem-connector")
        #expect(Shell.quote("SIEM Reader") == "'SIEM Reader'")
        #expect(Shell.quote("x'y") == #"'x'\''y'"#)
        #expect(Shell.quote("") == "''")
    }
}
