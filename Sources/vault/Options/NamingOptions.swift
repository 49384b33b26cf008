import ArgumentParser
import Foundation
import VaultCore
import VaultFormat

extension ExportFormat: ExpressibleByArgument {}

extension NameSet: ExpressibleByArgument {}

/// Variable naming flags shared by `export` and `exec`.
struct NamingOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Variable names: cookbook (TMV1_TOKEN, TMV1_URL), terraform (VISIONONE_API_KEY, VISIONONE_REGIONAL_FQDN) or mcp (TREND_VISION_ONE_API_KEY).", valueName: "set"))
    var names: NameSet = .cookbook

    @Option(name: .customLong("token-var"), help: ArgumentHelp("Name of the token variable instead.", valueName: "name"))
    var tokenVar: String?

    @Option(name: .customLong("url-var"), help: ArgumentHelp("Name of the base-URL variable instead.", valueName: "name"))
    var urlVar: String?

    @Flag(help: "Prefix each variable with its token's name (needed for several tokens).")
    var prefix = false

    @Flag(name: .customLong("allow-expired"), help: "Export even if a token has expired.")
    var allowExpired = false

    var naming: ExportNaming {
        ExportNaming(set: names, tokenVariable: tokenVar, urlVariable: urlVar, prefixWithName: prefix)
    }

    func check(_ tokens: [String]) throws {
        guard !tokens.isEmpty else { throw ValidationError("name at least one token") }
        for t in tokens { try Validate.tokenName(t) }
        guard Set(tokens).count == tokens.count else { throw ValidationError("a token is named twice") }
        if let v = tokenVar { try ExportNaming.validateVariable(v) }
        if let v = urlVar { try ExportNaming.validateVariable(v) }
    }
}
