import ArgumentParser
import Foundation
import VaultCore

/// The two reads of argv that ArgumentParser cannot do for v1vault; nothing else looks at
/// argv but for the program's name (`Output.program`) and a lone `--version`, answered before
/// the parser is built for speed (`Main`).
enum Argv {
    /// `exec`'s command: every word after the first `--`, untouched; nil without a `--`.
    ///
    /// ArgumentParser appends those words to exec's NAME… positionals, so it cannot say where
    /// the names end. Its `.postTerminator` strategy would, but 1.8.2's debug-build validator
    /// rejects an array positional (NAME…) beside a `.postTerminator` array and exits.
    static func afterTerminator(_ argv: [String]) -> [String]? {
        argv.firstIndex(of: "--").map { Array(argv[($0 + 1)...]) }
    }
}

/// A command line ArgumentParser refused (a usage error, or a name a `validate()` rejected).
///
/// ArgumentParser's error does not say which subcommand it was parsing (its `CommandError`
/// and command stack are internal), yet three answers depend on it: `exec` exits 125 for its
/// own failures, usage errors included (GNU env); an `export` whose output a shell evaluates
/// prints `false` (fail closed); and a word that names no subcommand gets a did-you-mean. The
/// options are still read by ArgumentParser, from the groups the commands declare
/// (`GlobalOptions`, `ExportDestination`): no option name is spelled here.
struct RefusedCommandLine {
    /// The first word that is neither an option nor a global option's value
    /// (`vault --vault export list …`: `list`).
    let subcommand: String?
    /// The words after it.
    let rest: [String]

    /// `args`: argv without the program.
    init(_ args: [String]) {
        var i = 0
        while i < args.count, args[i].hasPrefix("-") {
            i += Self.takesValue(args[i]) ? 2 : 1
        }
        subcommand = i < args.count ? args[i] : nil
        rest = i < args.count ? Array(args[(i + 1)...]) : []
    }

    /// Whether `word` is a global option that needs the next word as its value: one that does
    /// not parse on its own (`--vault`, not `--vault=PATH`, `-q` or an unknown option).
    static func takesValue(_ word: String) -> Bool {
        do {
            _ = try LeadingOption.parse([word])
            return false
        } catch {
            return LeadingOption.exitCode(for: error) != .success  // --help stands alone
        }
    }

    /// `export` to stdout in a format a shell evaluates. A line too broken to read its
    /// --format and -o from (`--format` with no value, an unknown format) counts as one: the
    /// `false` line is printed when in doubt.
    var exportsToShell: Bool {
        guard subcommand == Export.configuration.commandName else { return false }
        guard let words = try? ExportWords.parse(rest) else { return true }
        return words.destination.evaluatedByShell
    }

    /// The global options, and any other word kept aside.
    private struct LeadingOption: ParsableArguments {
        @OptionGroup var global: GlobalOptions
        @Argument(parsing: .allUnrecognized) var other: [String] = []
    }

    /// `export`'s --format and -o, and any other word kept aside.
    private struct ExportWords: ParsableArguments {
        @OptionGroup var destination: ExportDestination
        @Argument(parsing: .allUnrecognized) var other: [String] = []
    }
}
