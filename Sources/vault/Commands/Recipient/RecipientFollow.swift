import ArgumentParser
import Foundation
import VaultCore

/// The recipient and tokens of `recipient follow` and `unfollow`.
struct FollowArguments: ParsableArguments {
    @Argument(help: ArgumentHelp("The recipient.", valueName: "name")) var name: String
    @Argument(help: ArgumentHelp("Stored tokens.", valueName: "token"), completion: Completions.tokenNames) var tokens: [String]

    func validate() throws {
        try InputCheck.tokenNames([name])
        try InputCheck.tokenNames(tokens)
        if tokens.isEmpty { throw ValidationError("name at least one token") }
    }
}

struct RecipientFollow: ParsableCommand, UsesGlobalOptions {
    static let configuration = CommandConfiguration(
        commandName: "follow",
        abstract: "Send these keys' new versions to a recipient (renew --publish, share --followers).")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var follow: FollowArguments

    func run() throws {
        let vault = try global.openVault()
        let (name, tokens) = (follow.name, follow.tokens)
        let changed = try global.unlock(vault).setFollows(name, tokens: tokens, follow: true)
        Output.done("\(name) follows \(tokens.joined(separator: ", "))" + (changed.count < tokens.count ? " (\(tokens.count - changed.count) already did)" : ""))
    }
}

struct RecipientUnfollow: ParsableCommand, UsesGlobalOptions {
    static let configuration = CommandConfiguration(
        commandName: "unfollow",
        abstract: "Stop sending these keys' new versions to a recipient.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var follow: FollowArguments

    func run() throws {
        let vault = try global.openVault()
        let (name, tokens) = (follow.name, follow.tokens)
        let changed = try global.unlock(vault).setFollows(name, tokens: tokens, follow: false)
        Output.done("\(name) no longer follows \(tokens.joined(separator: ", "))" + (changed.count < tokens.count ? " (\(tokens.count - changed.count) did not)" : ""))
    }
}
