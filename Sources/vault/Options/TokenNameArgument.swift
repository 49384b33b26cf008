import ArgumentParser
import Foundation
import VaultCore
import VaultFormat
import VaultStorage

/// The one stored key most commands act on (`get`, `copy`, `show`, `history`, `edit`,
/// `rotate`, `rollback`, `remove`): its argument, completion and name check in one place.
struct TokenNameArgument: ParsableArguments {
    @Argument(help: ArgumentHelp("The key's name.", valueName: "name"), completion: Completions.tokenNames) var name: String

    /// Runs while ArgumentParser decodes the command, before the command's own `validate()`.
    func validate() throws { try InputCheck.tokenNames([name]) }
}

/// A command whose key is a `TokenNameArgument` called `token`.
protocol NamesOneToken {
    var token: TokenNameArgument { get }
}

extension NamesOneToken {
    var name: String { token.name }
}
