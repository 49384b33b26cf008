import Foundation
import Testing

/// A shipped unit file's settings, read the way systemd reads the subset the shipped units use:
/// `Key=value` lines, `#`/`;` comments, a later `Environment=` adding to earlier ones.
struct UnitFile {
    let path: String
    let settings: [(section: String, key: String, value: String)]

    init(_ path: String) throws {
        self.path = path
        var section = ""
        var out: [(String, String, String)] = []
        for raw in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") { section = String(line.dropFirst().dropLast()); continue }
            guard let eq = line.firstIndex(of: "="), !line.hasSuffix("\\") else {
                throw UnitError("\(path): cannot read the line \(line)")
            }
            out.append((section, line[..<eq].trimmingCharacters(in: .whitespaces), line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)))
        }
        settings = out
    }

    func values(_ key: String, in section: String = "Service") -> [String] {
        settings.filter { $0.section == section && $0.key == key }.map(\.value)
    }

    /// The last assignment wins, as in systemd.
    func value(_ key: String, in section: String = "Service") -> String? { values(key, in: section).last }

    /// Every `Environment=` assignment (whitespace-separated, double quotes allowed).
    var environment: [String: String] {
        var env: [String: String] = [:]
        for line in values("Environment") {
            var words: [String] = [], word = "", quoted = false
            for ch in line {
                if ch == "\"" { quoted.toggle() } else if ch == " " && !quoted { if !word.isEmpty { words.append(word); word = "" } } else { word.append(ch) }
            }
            if !word.isEmpty { words.append(word) }
            for w in words { if let eq = w.firstIndex(of: "=") { env[String(w[..<eq])] = String(w[w.index(after: eq)...]) } }
        }
        return env
    }

    /// `LoadCredential=`/`LoadCredentialEncrypted=` as (credential name, source path).
    var credentials: [(name: String, source: String)] {
        (values("LoadCredential") + values("LoadCredentialEncrypted")).map { v in
            let parts = v.split(separator: ":", maxSplits: 1).map(String.init)
            return (parts[0], parts.count > 1 ? parts[1] : "")
        }
    }

    /// ExecStart= split into words (the shipped units use no quoting or `$` expansion).
    var execStart: [String] { (value("ExecStart") ?? "").split(separator: " ").map(String.init) }
}

struct UnitError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// A system user, as `getpwnam` sees it.
struct ServiceUser {
    let name: String, uid: UInt32, gid: UInt32, home: String, shell: String

    static func lookUp(_ name: String) -> ServiceUser? {
        guard let pw = getpwnam(name) else { return nil }
        return ServiceUser(name: name, uid: pw.pointee.pw_uid, gid: pw.pointee.pw_gid,
                           home: String(cString: pw.pointee.pw_dir), shell: String(cString: pw.pointee.pw_shell))
    }
}

/// The shipped system units' ExecStart, run as systemd would run it — this machine cannot boot
/// systemd. From each unit file: User=/Group= (setpriv --reuid/--regid/--init-groups, and
/// --no-new-privs for NoNewPrivileges=yes), only the unit's environment (Environment= plus what
/// systemd sets itself for a unit with User=: PATH, HOME, USER, LOGNAME, SHELL, STATE_DIRECTORY,
/// CREDENTIALS_DIRECTORY), StateDirectory= created with StateDirectoryMode= and the unit's owner,
/// the credential of LoadCredential*= as a 0400 file of that user named after it in a fresh
/// private directory, working directory /, stdin /dev/null, no controlling terminal (setsid).
/// Two substitutions: the built binary for /usr/bin/v1vault, and a private directory for /var/lib
/// (StateDirectory= and the Environment= paths under it), so a host's real vault is never
/// touched. Not emulated: the sandboxing directives (ProtectSystem=, SystemCallFilter=, …) —
/// scripts/check-units runs every shipped unit under systemd itself with them, and
/// scripts/check-package scores them with `systemd-analyze security`.
@Suite("the shipped systemd units: ExecStart run as systemd would run it (out of process, as root)")
struct SystemdUnitTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let canRun = getuid() == 0 && ["/usr/bin/setpriv", "/usr/bin/setsid", "/usr/sbin/useradd"].allSatisfy { FileManager.default.isExecutableFile(atPath: $0) }
    static let reason: Comment = "runs each unit's ExecStart as its User= (useradd, setpriv): needs root and util-linux, as in CI"

    /// The host side of a unit's run: a private root standing in for /var/lib and /run.
    final class Host {
        let root: String
        let user: ServiceUser
        let binary: String

        init(user: ServiceUser) throws {
            self.user = user
            root = FileManager.default.temporaryDirectory.appendingPathComponent("v1vault-units-\(UUID().uuidString)").path
            // 0755 root-owned all the way down, like /var/lib and /run: the service user may pass.
            for d in ["", "/var", "/var/lib", "/run", "/run/credentials", "/usr", "/usr/bin"] {
                try FileManager.default.createDirectory(atPath: root + d, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o755])
            }
            binary = root + "/usr/bin/v1vault"
            try FileManager.default.createSymbolicLink(atPath: binary, withDestinationPath: CLI.binary)
        }

        /// A path under /var/lib, moved into the private root.
        func mapped(_ path: String) -> String { path.hasPrefix("/var/lib/") ? root + path : path }

        func chown(_ path: String) throws {
            guard Glibc.chown(path, user.uid, user.gid) == 0 else { throw UnitError("chown \(path): \(String(cString: strerror(errno)))") }
        }

        /// StateDirectory= with StateDirectoryMode= (systemd's default 0755), owned by the unit's user.
        func stateDirectory(_ unit: UnitFile) throws -> String {
            let name = try #require(unit.value("StateDirectory"), "\(unit.path) has no StateDirectory=")
            let mode = try #require(mode_t(unit.value("StateDirectoryMode") ?? "0755", radix: 8))
            let dir = root + "/var/lib/" + name
            if !FileManager.default.fileExists(atPath: dir) { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false) }
            guard chmod(dir, mode) == 0 else { throw UnitError("chmod \(dir)") }
            try chown(dir)
            return dir
        }

        /// A fresh private credentials directory holding each credential the unit loads, as
        /// systemd puts it there (decrypted, or copied from its file): 0400 files of the unit's
        /// user in a 0500 directory. `contents` gives a credential's bytes from its source.
        func credentials(_ unit: UnitFile, unitName: String, contents: (_ source: String) throws -> Data) throws -> String {
            let dir = root + "/run/credentials/" + unitName
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
            let creds = unit.credentials
            try #require(!creds.isEmpty, "\(unit.path) loads no credential")
            for (name, source) in creds {
                let file = dir + "/" + name
                try #require(FileManager.default.createFile(atPath: file, contents: try contents(source), attributes: [.posixPermissions: 0o400]))
                try chown(file)
            }
            guard chmod(dir, 0o500) == 0 else { throw UnitError("chmod \(dir)") }
            try chown(dir)
            return dir
        }

        /// What systemd puts in a service's environment for User=, plus the unit's Environment=.
        func environment(_ unit: UnitFile, state: String?, credentials: String?) -> [String: String] {
            var env = ["PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": user.home, "USER": user.name,
                       "LOGNAME": user.name, "SHELL": user.shell]
            if let state { env["STATE_DIRECTORY"] = state }
            if let credentials { env["CREDENTIALS_DIRECTORY"] = credentials }
            for (k, v) in unit.environment { env[k] = mapped(v) }
            return env
        }

        struct Run: CustomStringConvertible {
            var status: Int32, out: String, err: String
            var description: String { "status \(status)\nstdout: \(out)\nstderr: \(err)" }
        }

        /// Runs argv as the user — setsid (no controlling terminal), setpriv — with exactly `env`,
        /// in `/`; killed after 60 s so a hang fails the test instead of stalling the run.
        func run(_ argv: [String], env: [String: String], stdin: Data? = nil, noNewPrivileges: Bool = false) throws -> Run {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/setsid")
            p.arguments = ["--wait", "/usr/bin/setpriv", "--reuid=\(user.uid)", "--regid=\(user.gid)", "--init-groups"]
                + (noNewPrivileges ? ["--no-new-privs"] : []) + ["--"] + argv
            p.environment = env
            p.currentDirectoryURL = URL(fileURLWithPath: "/")
            let out = Pipe(), err = Pipe(), inp = Pipe()
            p.standardOutput = out
            p.standardError = err
            p.standardInput = stdin == nil ? FileHandle(forReadingAtPath: "/dev/null") : inp
            try p.run()
            if let stdin {
                try inp.fileHandleForWriting.write(contentsOf: stdin)
                try inp.fileHandleForWriting.close()
            }
            let pid = p.processIdentifier
            let watchdog = DispatchWorkItem { kill(pid, SIGKILL) }
            DispatchQueue.global().asyncAfter(deadline: .now() + 60, execute: watchdog)
            final class Box: @unchecked Sendable { var data = Data() }
            let errBox = Box(), group = DispatchGroup()
            group.enter()
            DispatchQueue.global().async { errBox.data = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
            let o = out.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            group.wait()
            watchdog.cancel()
            return Run(status: p.terminationStatus, out: String(decoding: o, as: UTF8.self), err: String(decoding: errBox.data, as: UTF8.self))
        }

        /// The system unit's ExecStart with the built binary for /usr/bin/v1vault, run as systemd
        /// would; `passphrase` stands for what systemd decrypts from LoadCredentialEncrypted=.
        func execStart(_ unit: UnitFile, unitName: String, passphrase: String) throws -> Run {
            let argv = unit.execStart
            try #require(argv.first == "/usr/bin/v1vault", "\(unit.path): ExecStart=\(argv)")
            try #require(unit.value("User") == user.name && unit.value("Group") == user.name, "\(unit.path): User=/Group=")
            let state = try stateDirectory(unit)
            let creds = try credentials(unit, unitName: unitName) { _ in Data(passphrase.utf8) }
            defer { try? FileManager.default.removeItem(atPath: creds) }
            return try run([binary] + argv.dropFirst().map(mapped), env: environment(unit, state: state, credentials: creds),
                           noNewPrivileges: unit.value("NoNewPrivileges") == "yes")
        }

        /// The user unit's ExecStart as a user manager runs it for `user` with home `home`: the
        /// manager's environment (HOME, USER, LOGNAME, SHELL, PATH, XDG_RUNTIME_DIR) and the
        /// unit's, its specifiers resolved for that user (%E: ~/.config, %h: home).
        func userExecStart(_ unit: UnitFile, home: String) throws -> Run {
            let argv = unit.execStart
            try #require(argv.first == "/usr/bin/v1vault", "\(unit.path): ExecStart=\(argv)")
            try #require(unit.value("User") == nil && unit.value("StateDirectory") == nil, "\(unit.path) is not a user unit")
            var env = ["PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": home, "USER": user.name,
                       "LOGNAME": user.name, "SHELL": user.shell, "XDG_RUNTIME_DIR": root + "/run"]
            for (k, v) in unit.environment {
                env[k] = v.replacingOccurrences(of: "%E", with: home + "/.config").replacingOccurrences(of: "%h", with: home)
            }
            return try run([binary] + argv.dropFirst(), env: env, noNewPrivileges: unit.value("NoNewPrivileges") == "yes")
        }

        deinit { try? FileManager.default.removeItem(atPath: root) }
    }

    /// The service user, created as README says when it does not exist yet.
    static func serviceUser() throws -> ServiceUser {
        if let u = ServiceUser.lookUp("v1vault") { return u }
        let made = runProgram("/usr/sbin/useradd", ["--system", "--home-dir", "/var/lib/v1vault", "--shell", "/usr/sbin/nologin", "v1vault"])
        try #require(made.status == 0, "useradd failed")
        return try #require(ServiceUser.lookUp("v1vault"))
    }

    @Test("README's service vault: created from the credential's passphrase, filled by export --json-meta | import; the renew unit renews a due key (exit 0), the check unit checks all (exit 0)",
          .enabled(if: canRun, reason))
    func renewAndCheckUnits() throws {
        let started = Date()
        let renewUnit = try UnitFile(Self.repo + "/packaging/examples/v1vault-renew.service")
        let checkUnit = try UnitFile(Self.repo + "/packaging/examples/v1vault-check.service")
        // The credential they load is the one v1vault reads.
        for unit in [renewUnit, checkUnit] {
            #expect(unit.credentials.map(\.name) == ["v1vault-passphrase"], "\(unit.path)")
            #expect(unit.credentials.map(\.source) == ["/etc/credstore.encrypted/v1vault-passphrase"], "\(unit.path)")
        }
        #expect(renewUnit.execStart == ["/usr/bin/v1vault", "renew", "--due", "30d"])
        #expect(checkUnit.execStart == ["/usr/bin/v1vault", "check", "--all"])

        // Given: a person's vault with a manager key and a linked key that expires in 2 days.
        let personal = try CLI()
        defer { personal.cleanup() }
        try #require(personal.run("init", "--kdf-memory", "8M", "--kdf-ops", "1").status == 0)
        let server = try FakeVisionOne(dir: personal.dir)
        let m = try server.seed(["name": "v1-manager", "role": "Master Administrator"])
        let f = ISO8601DateFormatter()
        let s = try server.seed(["name": "siem-connector", "role": "SIEM", "expiredDateTime": f.string(from: Date().addingTimeInterval(2 * 86400))])
        for (name, key, role, expires) in [("v1-manager", m, "Master Administrator", "1y"), ("siem-connector", s, "SIEM", "2d")] {
            let r = personal.run(["add", name, "--base-url", server.baseURL, "--role", role, "--expires", expires, "--console-id", key.id, "--console-name", name],
                                 stdin: Data(key.value.utf8))
            try #require(r.status == 0, "add \(name): \(r)")
        }
        try #require(personal.run("manager", "set", "v1-manager").status == 0)

        // The service user and its home, as README: useradd --system, install -d -o -g -m 0700.
        let user = try Self.serviceUser()
        let host = try Host(user: user)
        let vaultPath = try #require(renewUnit.environment["V1VAULT_PATH"])
        #expect(vaultPath == "/var/lib/v1vault/vault.db" && checkUnit.environment["V1VAULT_PATH"] == vaultPath)
        let home = try host.stateDirectory(renewUnit)
        #expect(home == host.mapped("/var/lib/v1vault"))
        let servicePassphrase = "service vault passphrase 7f3a"
        // As README: the credential's plaintext (systemd-creds decrypt … -) on a pipe into
        // `sudo -u v1vault env V1VAULT_PATH=… v1vault --passphrase-fd 0 init` (fast KDF here).
        let sudoEnv = ["PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": user.home, "USER": user.name,
                       "LOGNAME": user.name, "SHELL": user.shell, "V1VAULT_PATH": host.mapped(vaultPath)]
        let made = try host.run([host.binary, "--passphrase-fd", "0", "init", "--kdf-memory", "8M", "--kdf-ops", "1"], env: sudoEnv,
                                stdin: Data(servicePassphrase.utf8))
        try #require(made.status == 0, "init: \(made)")

        // As README: `v1vault export … --json-meta | sudo -u v1vault env V1VAULT_PATH=… v1vault
        // import - --format json`, which asks for the service vault's passphrase on the terminal
        // while stdin is the data (setpriv for sudo; a pty for the terminal).
        let env = sudoEnv.map { "\($0.key)=\($0.value)" }.sorted()
        let script = #"bin="$1" uid="$2" gid="$3"; shift 3; "$bin" export v1-manager siem-connector --prefix --format json --json-meta | /usr/bin/setpriv --reuid="$uid" --regid="$gid" --init-groups /usr/bin/env -i "$@""#
        let moved = try ptyDrive(personal, ["/bin/sh", "-c", script, "sh", host.binary, "\(user.uid)", "\(user.gid)"]
                                + env + [host.binary, "import", "-", "--format", "json"],
                             [("Vault passphrase: ", servicePassphrase + "\n")])
        try #require(moved.status == 0 && moved.output.contains("imported 2 tokens"), "import: \(moved)")
        let managers = try host.run([host.binary, "--passphrase-fd", "0", "manager", "show", "--json"], env: sudoEnv, stdin: Data(servicePassphrase.utf8))
        #expect(managers.out == #"[{"name":"v1-manager","base_url":"\#(server.baseURL)","region":null}]"# + "\n", "\(managers)")

        // When: the renew unit's ExecStart runs as systemd would run it.
        let renewed = try host.execStart(renewUnit, unitName: "v1vault-renew.service", passphrase: servicePassphrase)
        // Then: exit 0 (renewed), and the new version is current in the service vault, linked to
        // the console key the fake created. (Through the fake's create answer: a branch that
        // changes that format needs the matching client fix for this assertion to hold.)
        #expect(renewed.status == 0 && renewed.out.contains("renewed: siem-connector"), "renew: \(renewed)")
        let history = try host.run([host.binary, "history", "siem-connector", "--json"], env: sudoEnv)
        let versions = try #require(try JSONSerialization.jsonObject(with: Data(history.out.utf8)) as? [[String: Any]], "\(history)")
        #expect(versions.count == 2 && versions.first?["version"] as? Int == 2 && versions.first?["state"] as? String == "current", "\(versions)")
        let newName = try #require(versions.first?["console_name"] as? String)
        let newStatus = try server.keys()[newName]?["status"] as? String
        #expect(newName.hasPrefix("siem-connector-v1v") && newStatus == "enabled", "\(newName)")
        // The old key stays enabled for the grace period (`--disable-after`, 1d by default).
        #expect(try server.keys()["siem-connector"]?["status"] as? String == "enabled")

        // And the check unit's ExecStart (check --all) finds every current key working.
        let checked = try host.execStart(checkUnit, unitName: "v1vault-check.service", passphrase: servicePassphrase)
        #expect(checked.status == 0, "check: \(checked)")
        let rows = checked.out.split(separator: "\n").dropFirst().map { $0.split(separator: " ").prefix(3).joined(separator: " ") }
        #expect(rows == ["siem-connector 2 ok", "v1-manager 1 ok"], "\(checked)")
        // Nothing of the run in the vault's directory but the vault (no passphrase left behind).
        let left = try FileManager.default.contentsOfDirectory(atPath: home).filter { !$0.hasPrefix("vault.db") }
        #expect(left.isEmpty, "\(left)")
        print("SystemdUnitTests.renewAndCheckUnits took \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
    }

    @Test("the user renewal unit: with the passphrase file README has you write, its ExecStart renews a due key in your own vault (exit 0); the file readable by others, it refuses (exit 8)",
          .enabled(if: canRun, reason))
    func userRenewUnit() throws {
        let unit = try UnitFile(Self.repo + "/packaging/systemd/v1vault-renew.service")
        #expect(unit.environment["V1VAULT_PASSPHRASE_FILE"] == "%E/v1vault/passphrase" && unit.credentials.isEmpty)
        #expect(unit.execStart == ["/usr/bin/v1vault", "renew", "--due", "30d"] && unit.value("SuccessExitStatus") == "26")
        let user = try Self.serviceUser()
        let host = try Host(user: user)
        try FileManager.default.createDirectory(atPath: host.root + "/fake", withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        let server = try FakeVisionOne(dir: host.root + "/fake")
        let m = try server.seed(["name": "my-manager", "role": "Master Administrator"])
        let s = try server.seed(["name": "my-siem", "role": "SIEM", "expiredDateTime": ISO8601DateFormatter().string(from: Date().addingTimeInterval(2 * 86400))])

        // A person (the service user stands in for one: any user but root will do) with a home
        // of their own and the default vault in it.
        try FileManager.default.createDirectory(atPath: host.root + "/home", withIntermediateDirectories: false, attributes: [.posixPermissions: 0o755])
        let home = host.root + "/home/person"
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        try host.chown(home)
        let env = ["PATH": "/usr/bin:/bin", "HOME": home, "USER": user.name, "LOGNAME": user.name]
        let passphrase = "my own vault passphrase 19c2"
        // README: install -d -m 0700 ~/.config/v1vault; (umask 077; systemd-ask-password … > ~/.config/v1vault/passphrase)
        let file = try host.run(["/bin/sh", "-c", #"install -d -m 0700 "$HOME/.config/v1vault" && (umask 077; cat > "$HOME/.config/v1vault/passphrase")"#],
                                env: env, stdin: Data(passphrase.utf8))
        try #require(file.status == 0, "\(file)")
        var mine = env
        mine["V1VAULT_PASSPHRASE_FILE"] = home + "/.config/v1vault/passphrase"
        let made = try host.run([host.binary, "init", "--kdf-memory", "8M", "--kdf-ops", "1"], env: mine)
        try #require(made.status == 0, "init: \(made)")
        for (name, key, role, expires) in [("my-manager", m, "Master Administrator", "1y"), ("my-siem", s, "SIEM", "2d")] {
            let r = try host.run([host.binary, "add", name, "--base-url", server.baseURL, "--role", role, "--expires", expires, "--console-id", key.id,
                                  "--console-name", name], env: mine, stdin: Data(key.value.utf8))
            try #require(r.status == 0, "add \(name): \(r)")
        }
        try #require(try host.run([host.binary, "manager", "set", "my-manager"], env: mine).status == 0)

        // When: the user unit's ExecStart runs as the user manager would run it.
        let renewed = try host.userExecStart(unit, home: home)
        // Then: exit 0, and the new version is current (through the fake's create answer, as above).
        #expect(renewed.status == 0 && renewed.out.contains("renewed: my-siem"), "renew: \(renewed)")
        let history = try host.run([host.binary, "history", "my-siem", "--json"], env: env)
        let versions = try #require(try JSONSerialization.jsonObject(with: Data(history.out.utf8)) as? [[String: Any]], "\(history)")
        #expect(versions.count == 2 && versions.first?["version"] as? Int == 2 && versions.first?["state"] as? String == "current", "\(versions)")
        // The file as README makes it is 0600; readable by others, the unit fails (exit 8).
        let file600 = home + "/.config/v1vault/passphrase"
        #expect(try FileManager.default.attributesOfItem(atPath: file600)[.posixPermissions] as? Int == 0o600)
        try #require(chmod(file600, 0o644) == 0)
        let refused = try host.userExecStart(unit, home: home)
        #expect(refused.status == 8 && refused.err.hasPrefix("error: \(file600) is accessible by other users (mode 644)"), "\(refused)")
    }

    @Test("the receive units: the path unit watches the service vault's inbox and starts the service; its ExecStart, with the credential, adds a drop a trusted vault shared (exit 0), finds nothing new on a re-run (exit 0, a success), and fails on a garbage file (exit 30) while still taking the good one",
          .enabled(if: canRun, reason))
    func receiveUnits() throws {
        let unit = try UnitFile(Self.repo + "/packaging/examples/v1vault-receive.service")
        let path = try UnitFile(Self.repo + "/packaging/examples/v1vault-receive.path")
        let renewUnit = try UnitFile(Self.repo + "/packaging/examples/v1vault-renew.service")
        // The path unit: the inbox in the service vault's directory, made 0700 when missing, and this service.
        #expect(path.values("PathChanged", in: "Path") == ["/var/lib/v1vault/inbox"])
        #expect(path.value("MakeDirectory", in: "Path") == "yes" && path.value("DirectoryMode", in: "Path") == "0700")
        #expect(path.value("Unit", in: "Path") == "v1vault-receive.service")
        // The service: the renew unit's user, vault, state directory and credential; receive of
        // the inbox; only 0 a success; the inbox read-only, no network.
        #expect(unit.execStart == ["/usr/bin/v1vault", "receive", "/var/lib/v1vault/inbox"])
        for key in ["User", "Group", "StateDirectory", "StateDirectoryMode", "LoadCredentialEncrypted", "NoNewPrivileges", "ProtectSystem"] {
            #expect(unit.values(key) == renewUnit.values(key), "\(key)")
        }
        #expect(unit.environment == renewUnit.environment)
        #expect(unit.credentials.map(\.name) == ["v1vault-passphrase"])
        #expect(unit.values("SuccessExitStatus").isEmpty && unit.value("Type") == "oneshot")
        #expect(unit.values("ReadOnlyPaths") == ["/var/lib/v1vault/inbox"])
        #expect(unit.value("PrivateNetwork") == "yes" && unit.value("RestrictAddressFamilies") == "none")

        // Given: a person's vault with a key, and the service vault (created from the
        // credential's passphrase) that trusts it; the person shares the key with the host.
        let personal = try CLI.initialized()
        defer { personal.cleanup() }
        try #require(personal.run("add", "siem-connector", stdin: "eyJ.shared.with-the-host").status == 0)
        let user = try Self.serviceUser()
        let host = try Host(user: user)
        _ = try host.stateDirectory(unit)
        let servicePassphrase = "service vault passphrase 31c9"
        let serviceEnv = ["PATH": "/usr/bin:/bin", "HOME": user.home, "V1VAULT_PATH": host.mapped("/var/lib/v1vault/vault.db")]
        let made = try host.run([host.binary, "--passphrase-fd", "0", "init", "--kdf-memory", "8M", "--kdf-ops", "1"], env: serviceEnv,
                                stdin: Data(servicePassphrase.utf8))
        try #require(made.status == 0, "init: \(made)")
        func identity(_ r: String) throws -> [String: String] {
            try #require(try JSONSerialization.jsonObject(with: Data(r.utf8)) as? [String: String], "identity: \(r)")
        }
        let hostID = try identity(try host.run([host.binary, "--passphrase-fd", "0", "identity", "--json"], env: serviceEnv,
                                               stdin: Data(servicePassphrase.utf8)).out)
        let mine = try identity(personal.run("identity", "--json").out)
        try #require(personal.run("recipient", "add", "web-01", try #require(hostID["recipient"])).status == 0)
        let trusted = try host.run([host.binary, "--passphrase-fd", "0", "recipient", "add", "alice", try #require(mine["recipient"]),
                                    "--signing-key", try #require(mine["signing_key"]), "--trust"], env: serviceEnv, stdin: Data(servicePassphrase.utf8))
        try #require(trusted.status == 0, "recipient add --trust: \(trusted)")
        let outbox = personal.dir + "/outbox"
        try FileManager.default.createDirectory(atPath: outbox, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        let shared = personal.run("share", "siem-connector", "--to", "web-01", "--outbox", outbox)
        try #require(shared.status == 0, "share: \(shared)")
        // The inbox as README makes it (install -d -o v1vault -g v1vault -m 0700), the drop in it.
        let inbox = host.mapped("/var/lib/v1vault/inbox")
        try FileManager.default.createDirectory(atPath: inbox, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        try host.chown(inbox)
        try FileManager.default.copyItem(atPath: outbox + "/web-01/siem-connector.age", toPath: inbox + "/siem-connector.age")
        try host.chown(inbox + "/siem-connector.age")

        // When: the service's ExecStart runs as systemd would run it. Then: added, exit 0.
        let first = try host.execStart(unit, unitName: "v1vault-receive.service", passphrase: servicePassphrase)
        #expect(first.status == 0 && first.out == "received siem-connector version 1 from alice (added)\n", "\(first)")
        let value = try host.run([host.binary, "--passphrase-fd", "0", "export", "siem-connector", "--format", "raw"], env: serviceEnv,
                                 stdin: Data(servicePassphrase.utf8))
        #expect(value.out == "eyJ.shared.with-the-host", "\(value)")
        // Nothing new: exit 0 (a success without SuccessExitStatus=).
        let again = try host.execStart(unit, unitName: "v1vault-receive.service", passphrase: servicePassphrase)
        #expect(again.status == 0 && again.out == "received siem-connector version 1 from alice (already held)\n", "\(again)")
        // A garbage file beside it: 30, the unit fails; the good file is still taken.
        try #require(FileManager.default.createFile(atPath: inbox + "/bad.age", contents: Data(repeating: 0x41, count: 300)))
        try host.chown(inbox + "/bad.age")
        let bad = try host.execStart(unit, unitName: "v1vault-receive.service", passphrase: servicePassphrase)
        #expect(bad.status == 30 && bad.out.contains("received siem-connector version 1 from alice (already held)"), "\(bad)")
        // Nothing of the run left in the vault's directory but the vault and the inbox.
        let left = try FileManager.default.contentsOfDirectory(atPath: host.mapped("/var/lib/v1vault")).filter { !$0.hasPrefix("vault.db") }
        #expect(left == ["inbox"], "\(left)")
    }

    /// A directory for a throwaway systemd-creds host key: on disk (systemd-creds will not keep
    /// one on tmpfs), and bind-mounted over /var/lib/systemd in a private mount namespace
    /// (`unshare -m`) for each command, so the host's own key is never read or made.
    static let sealingKeyDir: String? = {
        guard canRun, ["/usr/bin/systemd-creds", "/usr/bin/systemd-ask-password", "/usr/bin/unshare"].allSatisfy({ FileManager.default.isExecutableFile(atPath: $0) }) else { return nil }
        var template = Array("/var/tmp/v1vault-credkey-XXXXXX".utf8CString)
        guard mkdtemp(&template) != nil else { return nil }
        let dir = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        let probe = runProgram("/usr/bin/unshare", ["-m", "/bin/sh", "-c", #"mount --bind "$1" /var/lib/systemd && echo probe | systemd-creds encrypt --name=probe - - >/dev/null"#, "sh", dir])
        if probe.status != 0 { try? FileManager.default.removeItem(atPath: dir); return nil }
        return dir
    }()

    @Test("README's sealing lines: systemd-ask-password -n | systemd-creds encrypt --name=v1vault-passphrase, then systemd-creds decrypt … - | v1vault --passphrase-fd 0 init as the service user; what systemd decrypts for the unit opens that vault",
          .enabled(if: sealingKeyDir != nil, "needs root, systemd-creds and a private mount namespace (unshare -m) for a throwaway host key"))
    func sealedPassphrase() throws {
        let keyDir = try #require(Self.sealingKeyDir)
        defer { try? FileManager.default.removeItem(atPath: keyDir) }
        let user = try Self.serviceUser()
        let host = try Host(user: user)
        let unit = try UnitFile(Self.repo + "/packaging/examples/v1vault-renew.service")
        let store = host.root + "/credstore.encrypted"   // README: sudo install -d -m 0700 /etc/credstore.encrypted
        try FileManager.default.createDirectory(atPath: store, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        let sealed = store + "/v1vault-passphrase"
        let inNamespace = #"key="$1"; shift; mount --bind "$key" /var/lib/systemd && exec /bin/sh -c "$@""#
        let passphrase = "sealed service passphrase 5e1d"
        // 2. systemd-ask-password -n "…" | sudo systemd-creds encrypt --name=v1vault-passphrase - FILE
        let personal = try CLI()
        defer { personal.cleanup() }
        let typed = try ptyDrive(personal, ["/usr/bin/unshare", "-m", "/bin/sh", "-c", inNamespace, "sh", keyDir,
                                        #"systemd-ask-password -n "passphrase for the service vault:" | systemd-creds encrypt --name=v1vault-passphrase - "$0""#, sealed],
                             [("passphrase for the service vault:", passphrase + "\n")])
        try #require(typed.status == 0, "encrypt: \(typed)")
        // 3. sudo systemd-creds decrypt --name=v1vault-passphrase FILE - | sudo -u v1vault env V1VAULT_PATH=… v1vault --passphrase-fd 0 init
        _ = try host.stateDirectory(unit)
        let vault = try #require(unit.environment["V1VAULT_PATH"].map(host.mapped))
        let initialised = runProgram("/usr/bin/unshare", ["-m", "/bin/sh", "-c", inNamespace, "sh", keyDir,
            #"systemd-creds decrypt --name=v1vault-passphrase "$0" - | /usr/bin/setpriv --reuid="$1" --regid="$2" --init-groups /usr/bin/env -i PATH=/usr/bin:/bin V1VAULT_PATH="$3" "$4" --passphrase-fd 0 init --kdf-memory 8M --kdf-ops 1"#,
            sealed, "\(user.uid)", "\(user.gid)", vault, host.binary])
        try #require(initialised.status == 0, "decrypt | init: \(initialised)")
        // What systemd's LoadCredentialEncrypted= puts in $CREDENTIALS_DIRECTORY (the name is
        // checked against the one sealed in) opens the vault, as the unit's user.
        let decrypted = runProgram("/usr/bin/unshare", ["-m", "/bin/sh", "-c", inNamespace, "sh", keyDir,
                                                        #"systemd-creds decrypt --name="$1" "$0" -"#, sealed, unit.credentials[0].name])
        try #require(decrypted.status == 0)
        #expect(decrypted.out == passphrase)   // exactly what was typed: no newline
        let creds = try host.credentials(unit, unitName: "v1vault-renew.service") { _ in Data(decrypted.out.utf8) }
        let opened = try host.run([host.binary, "doctor"], env: host.environment(unit, state: nil, credentials: creds))
        #expect(opened.status == 0, "doctor with the credential: \(opened)")
    }

    @Test("README's move line through sudo itself: `v1vault export … | sudo -u v1vault env V1VAULT_PATH=… v1vault import - --format json` asks for the service vault's passphrase on the terminal while stdin is the pipe (sudo's use_pty included)",
          .enabled(if: canRun && FileManager.default.isExecutableFile(atPath: "/usr/bin/sudo"), "needs root and sudo (Debian 12's sudoers has use_pty)"))
    func moveThroughSudo() throws {
        let personal = try MoveKeysCLITests.source()
        defer { personal.cleanup() }
        let user = try Self.serviceUser()
        let host = try Host(user: user)
        let unit = try UnitFile(Self.repo + "/packaging/examples/v1vault-renew.service")
        _ = try host.stateDirectory(unit)
        let vault = try #require(unit.environment["V1VAULT_PATH"].map(host.mapped))
        let made = try host.run([host.binary, "--passphrase-fd", "0", "init", "--kdf-memory", "8M", "--kdf-ops", "1"],
                                env: ["PATH": "/usr/bin:/bin", "V1VAULT_PATH": vault], stdin: Data("moved by sudo 2b7e".utf8))
        try #require(made.status == 0, "\(made)")
        // The README line, v1vault spelled as the built binary's path (sudo resets PATH); run from
        // a directory the service user cannot enter, as a person's home would be.
        let line = #"cd "$0" && "$1" export mgr siem --prefix --format json --json-meta | sudo -u v1vault env V1VAULT_PATH="$2" "$1" import - --format json"#
        let moved = try ptyDrive(personal, ["/bin/sh", "-c", line, personal.dir, host.binary, vault], [("Vault passphrase: ", "moved by sudo 2b7e\n")])
        #expect(moved.status == 0 && moved.output.contains("imported 2 tokens"), "\(moved)")
        let managers = try host.run([host.binary, "--passphrase-fd", "0", "manager", "show", "--json"], env: ["PATH": "/usr/bin:/bin", "V1VAULT_PATH": vault],
                                    stdin: Data("moved by sudo 2b7e".utf8))
        #expect(managers.out == #"[{"name":"mgr","base_url":"https://api.eu.xdr.trendmicro.com","region":"eu"}]"# + "\n", "\(managers)")
    }

    /// scripts/pty-drive.py: `argv` on a new pseudo-terminal, answering `steps`.
    func ptyDrive(_ c: CLI, _ argv: [String], _ steps: [(String, String)]) throws -> (status: Int, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.environment = c.env
        let stepsJSON = String(decoding: try JSONSerialization.data(withJSONObject: steps.map { [$0.0, $0.1] }), as: UTF8.self)
        p.arguments = ["python3", Self.repo + "/scripts/pty-drive.py", stepsJSON] + argv
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let obj = (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
        return (obj["status"] as? Int ?? -999, obj["output"] as? String ?? String(decoding: data, as: UTF8.self))
    }
}
