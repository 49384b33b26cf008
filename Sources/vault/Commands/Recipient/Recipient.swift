import ArgumentParser

struct Recipient: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recipient",
        abstract: "The other vaults (teammates, hosts) this one shares keys with and receives from.",
        discussion: """
            A recipient is another vault's identity (`vault identity` there). `share --to NAME` \
            encrypts drops to its age recipient; `receive` accepts drops signed by its signing \
            key only when it was added with --trust. `follow` makes `renew --publish` and \
            `share --followers` send a key's new versions to it. Removing a recipient stops \
            future drops; what it already holds stays valid until the key is renewed.
            """,
        subcommands: [RecipientAdd.self, RecipientList.self, RecipientRemove.self, RecipientTrust.self, RecipientFollow.self, RecipientUnfollow.self],
        defaultSubcommand: RecipientList.self)
}
