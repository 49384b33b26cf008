import ArgumentParser
import GRDB

/// `stackfloor parse NAME`: ArgumentParser only. `stackfloor write DB NAME`: also open a WAL
/// database, read one row by a unique index and commit one row, as every vault command does.
struct StackFloor: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stackfloor", subcommands: [Parse.self, Write.self])
}

struct Parse: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "parse")
    @Option var format: String = "env"
    @Argument var name: String
    func run() {}
}

struct Write: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "write")
    @Option var format: String = "env"
    @Argument var path: String
    @Argument var name: String

    func run() throws {
        var config = Configuration()
        config.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        let queue = try DatabaseQueue(path: path, configuration: config)
        try queue.writeWithoutTransaction { db in
            _ = try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL")
            try db.execute(sql: "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, name TEXT UNIQUE, v BLOB)")
            try db.execute(sql: "CREATE TABLE IF NOT EXISTS log (seq INTEGER PRIMARY KEY, at TEXT, what TEXT)")
        }
        try queue.write { db in
            _ = try Row.fetchOne(db, sql: "SELECT * FROM t WHERE name = ?", arguments: [name])
            try db.execute(sql: "INSERT INTO log (at, what) VALUES (datetime('now'), ?)", arguments: [name])
        }
        try queue.close()
    }
}

StackFloor.main()
