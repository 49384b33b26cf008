// libFuzzer harness: export quoting. Any token `add` accepts must come back byte for byte from
// the env (POSIX single quotes), json and github renderings; dotenv either refuses or is exact.
import Foundation

/// Reads back `export NAME='…'` lines the way a POSIX shell does for this subset.
func unquoteEnv(_ bytes: [UInt8]) -> [String: [UInt8]] {
    var out: [String: [UInt8]] = [:]
    var i = 0
    while i < bytes.count {
        precondition(Array(bytes[i..<min(i + 7, bytes.count)]) == Array("export ".utf8), "line must start with export")
        i += 7
        var name: [UInt8] = []
        while bytes[i] != UInt8(ascii: "=") { name.append(bytes[i]); i += 1 }
        i += 1
        var value: [UInt8] = []
        var inQuote = false
        while i < bytes.count && !(bytes[i] == 0x0A && !inQuote) {
            let c = bytes[i]
            if c == 0x27 { inQuote.toggle() }
            else if c == 0x5C && !inQuote { i += 1; value.append(bytes[i]) }
            else { precondition(inQuote, "unquoted byte \(c) outside quotes"); value.append(c) }
            i += 1
        }
        precondition(!inQuote)
        out[String(decoding: name, as: UTF8.self)] = value
        i += 1
    }
    return out
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzExport(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    var secret = SecureBytes(capacity: size, empty: true)
    secret.append(UnsafeRawBufferPointer(start: data, count: size))
    guard (try? TokenInput.validate(secret)) != nil else { return 0 }
    let original = Array(UnsafeBufferPointer(start: data, count: size))
    let token = RevealedToken(name: "k", version: 1, baseURL: "https://api.xdr.trendmicro.com", region: .us, expires: nil,
                              secret: .single(secret), warning: nil)
    let vars = try! Exporter.variables([token], naming: ExportNaming())

    let env = Exporter.env(vars).withUnsafeBytes { Array($0) }
    precondition(unquoteEnv(env)["TMV1_TOKEN"] == original, "env round trip")

    let json = Exporter.json(vars, meta: true).withUnsafeBytes { Data($0) }
    let obj = try! JSONSerialization.jsonObject(with: json) as! [String: Any]
    precondition((obj["TMV1_TOKEN"] as! String).utf8.elementsEqual(original), "json round trip")

    if let dotenv = try? Exporter.dotenv(vars) {
        let text = dotenv.withUnsafeBytes { Array($0) }
        precondition(text.starts(with: Array("TMV1_TOKEN=".utf8) + original + [0x0A]), "dotenv exact")
        precondition(!original.contains { Exporter.dotenvUnsafe.contains($0) })
    } else {
        precondition(original.contains { Exporter.dotenvUnsafe.contains($0) }, "dotenv refused a safe value")
    }

    let github = String(decoding: Exporter.githubEnv(vars).withUnsafeBytes { Array($0) }, as: UTF8.self)
    let lines = github.split(separator: "\n", omittingEmptySubsequences: false)
    let delimiter = lines[0].components(separatedBy: "<<")[1]
    precondition(lines[1].utf8.elementsEqual(original) && lines[2] == delimiter, "github heredoc")
    return 0
}
