import Foundation
import VaultFormat
import VaultStorage

// Vaults from before schemas 2 and 3: sealing the MACs they lack, only for tokens the verified
// audit log vouches for (`doctor --seal-metadata`, the first unlock after an upgrade).

extension UnlockedVault {
    /// Seals the metadata of every token that has no MAC (vaults from before schema 2), after the
    /// user has checked it — only tokens `vouchable` allows: never one whose MACs the audit log
    /// shows were sealed before (someone stripped them to get a forged state vouched for).
    /// Returns the names and base URLs sealed, and the tokens refused with why; audited.
    public func sealLegacyMetadata() throws(VaultError) -> (sealed: [(name: String, baseURL: String)], refused: [(name: String, why: String)]) {
        try perform("seal-metadata", subjects: []) { w in
            let verdicts = try vouchable(w.db)
            var sealed: [(String, String)] = [], refused: [(String, String)] = []
            for var legacy in try TokenRecord.withoutMetadataMAC(w.db) {
                if let why = verdicts[legacy.name] ?? "it is not in the audit log" { refused.append((legacy.name, why)); continue }
                try sealMetadata(w.db, &legacy)
                sealed.append((legacy.name, legacy.baseUrl))
            }
            w.subjects = sealed.map { AuditSubject(name: $0.0) }
            if !refused.isEmpty { w.details["refused"] = refused.map(\.0).joined(separator: ",") }
            return (sealed, refused)
        }
    }

    /// Per token without a metadata or state MAC: nil when v1vault may vouch for it (seal what
    /// the file holds now), else why not. Only a token left from before schema 2 qualifies:
    /// the audit chain verifies; a sealed `add`, `import` or `rename` row named it before the
    /// first row that carries the state marker (the upgrade to schema 3); no row with that
    /// marker, nor a `seal-metadata`/`seal-state` row, ever named it (its MACs existed — a
    /// token without them now was stripped); and it has nothing a pre-schema-5 token cannot
    /// have (a console link, the manager mark, its own warning window).
    func vouchable(_ db: StoreTransaction) throws -> [String: String?] {
        let candidates = try TokenRecord.namesWithoutMACs(db)
        guard !candidates.isEmpty else { return [:] }
        let chain = try AuditChain.verify(db, key: auditKey, epochs: try auditEpochs(db), expectHead: nil)
        if let problem = chain.problem {
            return Dictionary(uniqueKeysWithValues: candidates.map { ($0, .some("the audit log does not verify (\(problem))")) })
        }
        let rows = try AuditRecord.sealedRows(actions: nil, okOnly: true, db).compactMap { row -> LegacyVouch.Row? in
            guard let seq = row.seq, let action = row.action, let tokens = row.tokens, let details = row.details else { return nil }
            return LegacyVouch.Row(seq: seq, action: action, names: StateMAC.names(inTokens: tokens) ?? [], stateMarked: AuditChain.hasMarker(details, #""state":"sealed""#))
        }
        let schema5 = try TokenRecord.namesWithSchema5Fields(db)
        return LegacyVouch.verdicts(candidates: candidates, rows: rows, schema5: schema5)
    }

    /// Seals the version state of every token that has none and whose metadata verifies, under
    /// one `seal-state` audit row naming them. `doctor --seal-metadata` calls it after the user
    /// vouched; the first unlock after an upgrade to schema 3 calls it with `onlyIfNeverSealed`,
    /// which seals only if the authenticated audit chain is intact and shows the vault was never
    /// at schema 3 before (no sealed row marked `"state":"sealed"`): otherwise NULLs mean someone
    /// downgraded the file or deleted MACs, and they stay NULL, failing closed.
    /// Returns each token sealed with the current version it vouched for.
    @discardableResult
    public func sealLegacyState(onlyIfNeverSealed: Bool = false) throws(VaultError) -> [(name: String, current: TokenVersionInfo)] {
        let unsealed = try vault.store.read { db in
            try TokenRecord.countWithoutState(db)
        }
        guard unsealed > 0 else { return [] }
        if onlyIfNeverSealed {
            let (chain, marked) = try vault.store.read { db in
                (try AuditChain.verify(db, key: auditKey, epochs: try auditEpochs(db), expectHead: nil),
                 try AuditRecord.sealedRowMentions(#""state":"sealed""#, actions: nil, okOnly: false, db))
            }
            // An intact chain with no sealed row at all proves nothing (every MAC may have been
            // cleared); a real vault's `init` row is always sealed.
            guard chain.intact, chain.sealedRows > 0, !marked else { return [] }
        }
        return try perform("seal-state", subjects: []) { w in
            let verdicts = onlyIfNeverSealed ? [:] : try vouchable(w.db)
            var sealed: [(name: String, current: TokenVersionInfo)] = []
            for var t in try TokenRecord.withoutState(w.db) {
                guard (try? checkMetadata(t)) != nil else { continue }
                if !onlyIfNeverSealed, (verdicts[t.name] ?? "not in the audit log") != nil { continue }
                let current = try sealState(w, &t)
                sealed.append((t.name, TokenVersionInfo(version: current.version, created: Timestamp.date(current.createdAt),
                                                        expires: current.expiresAt.map(Timestamp.date), retired: nil)))
            }
            w.subjects = sealed.map { AuditSubject(name: $0.name) }
            return sealed
        }
    }
}
