import Foundation
import Testing
@testable import VaultCore
@testable import VaultFormat
@testable import VisionOne

/// Answers scripted per request, in order; records what was sent and how long the client
/// waited (no real sleeping, no network).
final class ScriptedTransport: HTTPTransport, @unchecked Sendable {
    enum Answer {
        case response(status: Int, body: String?, etag: String? = nil, retryAfter: Int? = nil)
        case network(String)
    }
    private let lock = NSLock()
    private var answers: [Answer]
    private(set) var sent: [(method: String, url: String, headers: [String], body: String?)] = []
    init(_ answers: [Answer]) { self.answers = answers }

    func send(_ request: HTTPExchange, bearer: UnsafeRawBufferPointer,
              secure: ((UnsafeMutableRawBufferPointer) -> Data?)?) -> Result<HTTPExchange.Response, HTTPExchange.NetworkFailure> {
        let next: Answer = lock.withLock {
            sent.append((request.method, request.url, request.headers, request.body.map { String(decoding: $0, as: UTF8.self) }))
            return answers.isEmpty ? .network("no scripted answer left") : answers.removeFirst()
        }
        switch next {
        case .network(let m): return .failure(.init(curlCode: 28, message: m))
        case .response(let status, let body, let etag, let retryAfter):
            var data = body.map { Data($0.utf8) }
            if request.secureBody, var bytes = body.map({ Array($0.utf8) }) {
                data = bytes.withUnsafeMutableBytes { secure?($0) }
            }
            return .success(.init(status: status, traceID: "trace-1", etag: etag, retryAfter: retryAfter, location: nil, body: data))
        }
    }
    var count: Int { lock.withLock { sent.count } }
}

final class Sleeps: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [TimeInterval] = []
    private var clock = Date(timeIntervalSince1970: 1_800_000_000)
    var all: [TimeInterval] { lock.withLock { list } }
    func sleep(_ t: TimeInterval) { lock.withLock { list.append(t); clock = clock.addingTimeInterval(t) } }
    var now: Date { lock.withLock { clock } }
}

@Suite("the HTTP console client: structure, retries, Vision One's 60-second rate window (in process, scripted answers)")
struct HTTPConsoleClientTests {
    func client(_ answers: [ScriptedTransport.Answer], sleeps: Sleeps = Sleeps()) -> (HTTPConsoleClient, ScriptedTransport) {
        var policy = ConsoleRetryPolicy()
        policy.sleep = { sleeps.sleep($0) }
        policy.now = { sleeps.now }
        let transport = ScriptedTransport(answers)
        let manager = SecretView.single(secure("eyJmanager.value.sig"))
        return (HTTPConsoleClient(baseURL: "https://api.example", manager: manager, timeout: 75, policy: policy, transport: transport), transport)
    }

    static let trendCreate = #"[{"status": 201, "headers": [{"name": "Location", "value": "https://api.example/v3.0/iam/apiKeys/d367abdd-7739-4129-a36a-862c4ec018b4"}], "body": {"id": "d367abdd-7739-4129-a36a-862c4ec018b4", "value": "eyJnew.key.sig", "expiredDateTime": "2027-02-06T10:00:00Z"}}]"#

    @Test("create reads Trend's answer by structure: id, value in secure memory, expiry; the request is what the SDK sends")
    func createTrendShape() throws {
        let (c, t) = client([.response(status: 207, body: Self.trendCreate)])
        let created = try c.create(ConsoleCreateRequest(name: "siem-v1v20261203-0a0b0c0d", role: "SIEM", months: 3, description: "splunk"))
        #expect(created.id == "d367abdd-7739-4129-a36a-862c4ec018b4")
        #expect(string(created.value) == "eyJnew.key.sig")
        #expect(created.expires == Timestamp.parseDate("2027-02-06T10:00:00Z"))
        #expect(t.sent.map(\.method) == ["POST"] && t.sent[0].url == "https://api.example/v3.0/iam/apiKeys")
        #expect(t.sent[0].body == #"[{"description":"splunk","monthsToExpiration":3,"name":"siem-v1v20261203-0a0b0c0d","role":"SIEM"}]"#)
    }

    @Test("create refuses an answer whose Location names another key than its body; a failed element is a definite refusal")
    func createRefusals() throws {
        let other = Self.trendCreate.replacingOccurrences(of: "apiKeys/d367abdd", with: "apiKeys/ffffffff")
        #expect(throws: ConsoleFailure.self) { _ = try client([.response(status: 207, body: other)]).0.create(.init(name: "n", role: "r", months: 1, description: nil)) }
        do {
            _ = try client([.response(status: 207, body: #"[{"status": 400, "body": {"error": {"code": "BadRequest", "message": "The role cannot be assigned to API keys."}}}]"#)])
                .0.create(.init(name: "n", role: "Master Administrator", months: 1, description: nil))
            Issue.record("a failed element must throw")
        } catch {
            #expect(error.status == 400 && error.code == "BadRequest" && error.definite)
        }
    }

    @Test("429 without Retry-After: the client backs off across the 60-second window (5+10+20+30 s), then gives up with a 429")
    func rateLimitWithoutRetryAfter() throws {
        let sleeps = Sleeps()
        let limited = ScriptedTransport.Answer.response(status: 429, body: #"{"code": "TooManyRequests", "message": "Too many requests"}"#)
        let (c, t) = client(Array(repeating: limited, count: 5), sleeps: sleeps)
        do { _ = try c.get("k-1"); Issue.record("must throw") } catch {
            #expect(error.status == 429 && error.code == "TooManyRequests" && error.retried && !error.definite)
        }
        #expect(sleeps.all == [5, 10, 20, 30])
        #expect(t.count == 5)
    }

    @Test("429 with Retry-After: waited as said (at most 60 s), then the answer is used")
    func rateLimitWithRetryAfter() throws {
        let sleeps = Sleeps()
        let key = #"{"id": "k-1", "name": "siem", "status": "enabled", "role": "SIEM", "description": null, "lastUsedDateTime": "2026-01-01T00:00:00Z", "expiredDateTime": "2027-01-01T00:00:00Z"}"#
        let (c, _) = client([.response(status: 429, body: nil, retryAfter: 7), .response(status: 429, body: nil, retryAfter: 600),
                             .response(status: 200, body: key, etag: "d41d8cd98f00b204e9800998ecf8427e")], sleeps: sleeps)
        let (k, etag) = try c.get("k-1")
        #expect(k.name == "siem" && etag == "d41d8cd98f00b204e9800998ecf8427e")
        #expect(sleeps.all == [7, 60])
    }

    @Test("a create is retried after a 429 (not processed) but never after a 5xx or a lost answer (outcome unknown)")
    func createRetries() throws {
        let sleeps = Sleeps()
        let (c, t) = client([.response(status: 429, body: nil), .response(status: 207, body: Self.trendCreate)], sleeps: sleeps)
        #expect(try c.create(.init(name: "n", role: "r", months: 3, description: nil)).id == "d367abdd-7739-4129-a36a-862c4ec018b4")
        #expect(t.count == 2 && sleeps.all == [5])
        for answer: ScriptedTransport.Answer in [.response(status: 504, body: #"{"error": {"code": "GatewayTimeout"}}"#), .network("timed out")] {
            let (c2, t2) = client([answer, .response(status: 207, body: Self.trendCreate)])
            do { _ = try c2.create(.init(name: "n", role: "r", months: 3, description: nil)); Issue.record("must throw") } catch {
                #expect(error.unknownOutcome && !error.definite)
            }
            #expect(t2.count == 1)
        }
        // A refusal after a 429 retry does not prove the first attempt did nothing.
        let (c3, _) = client([.response(status: 429, body: nil), .response(status: 207, body: #"[{"status": 400, "body": {"error": {"code": "BadRequest"}}}]"#)])
        do { _ = try c3.create(.init(name: "n", role: "r", months: 3, description: nil)); Issue.record("must throw") } catch {
            #expect(error.status == 400 && !error.definite)
        }
    }

    @Test("reads retry 5xx and network failures twice; 413 is definite and not retried")
    func transientRetries() throws {
        let sleeps = Sleeps()
        let (c, t) = client([.response(status: 503, body: nil), .network("reset"), .response(status: 200, body: #"{"totalCount": 0, "count": 0, "items": null}"#)], sleeps: sleeps)
        #expect(try c.list().keys.isEmpty)
        #expect(t.count == 3 && sleeps.all == [1, 2])
        let (c2, t2) = client([.response(status: 413, body: #"{"error": {"code": "RequestEntityTooLarge"}}"#)])
        do { _ = try c2.delete(["a"]); Issue.record("must throw") } catch { #expect(error.status == 413 && error.definite) }
        #expect(t2.count == 1)
    }

    @Test("the total rate-limit wait of one client (one run, one base URL) is bounded")
    func sharedBudget() throws {
        let sleeps = Sleeps()
        var policy = ConsoleRetryPolicy()
        policy.sleep = { sleeps.sleep($0) }
        policy.now = { sleeps.now }
        policy.rateLimitBudget = 100
        let limited = ScriptedTransport.Answer.response(status: 429, body: nil)
        let transport = ScriptedTransport(Array(repeating: limited, count: 20))
        let c = HTTPConsoleClient(baseURL: "https://api.example", manager: .single(secure("eyJm.a.b")), timeout: 75, policy: policy, transport: transport)
        _ = try? c.get("a")     // waits 5+10+20+30 = 65 s, then gives up
        do { _ = try c.get("b"); Issue.record("must throw") } catch {   // 5+10+20 more: 100 s, then the budget is spent
            #expect(error.status == 429 && error.code?.hasPrefix("rate-limited: waited 100 s") == true)
        }
        #expect(sleeps.all == [5, 10, 20, 30, 5, 10, 20])
        #expect(transport.count == 9)
    }

    @Test("PATCH sends the ETag unquoted (as the SDK does), whatever quoting the GET had; 412 is a stale ETag")
    func etags() throws {
        for (given, sent) in [("d41d8cd98f00b204e9800998ecf8427e", "d41d8cd98f00b204e9800998ecf8427e"), ("\"abc\"", "abc"), ("W/\"abc\"", "W/\"abc\"")] {
            let (c, t) = client([.response(status: 204, body: nil)])
            #expect(try c.update("k-1", etag: given, fields: ["status": "disabled"]))
            #expect(t.sent[0].headers == ["If-Match: \(sent)"] && t.sent[0].body == #"{"status":"disabled"}"#)
        }
        let (c, _) = client([.response(status: 412, body: #"{"error": {"code": "ConditionNotMet", "number": 3090018}}"#)])
        #expect(try c.update("k-1", etag: "x", fields: ["status": "disabled"]) == false)
    }

    @Test("list follows nextLink on the client's own host, re-sends the filter, and matches names exactly; a quote is never put into the filter")
    func listing() throws {
        let page1 = #"{"totalCount": 3, "count": 2, "items": [{"id": "a", "name": "siem", "status": "enabled"}, {"id": "b", "name": "bad\u0007name", "status": "enabled"}], "nextLink": "https://elsewhere.example/v3.0/iam/apiKeys?top=200&skipToken=abc"}"#
        let page2 = #"{"totalCount": 3, "count": 1, "items": [{"id": "c", "name": "siem", "status": "disabled"}]}"#
        let (c, t) = client([.response(status: 200, body: page1), .response(status: 200, body: page2)])
        let listing = try c.list(name: "siem")
        #expect(listing.keys.map(\.id) == ["a", "c"] && listing.skipped == 1)
        #expect(t.sent.map(\.url) == ["https://api.example/v3.0/iam/apiKeys?orderBy=createdDateTime%20desc&top=200", "https://api.example/v3.0/iam/apiKeys?top=200&skipToken=abc"])
        #expect(t.sent.allSatisfy { $0.headers == ["TMV1-Filter: name eq 'siem'"] } && t.sent.count == 2)
        let (c2, t2) = client([.response(status: 200, body: #"{"items": [{"id": "q", "name": "it's", "status": "enabled"}, {"id": "r", "name": "other", "status": "enabled"}]}"#)])
        #expect(try c2.list(name: "it's").keys.map(\.id) == ["q"])
        #expect(t2.sent[0].headers == [])
    }
}

@Suite("the HTTP console client stops calling a console that fails every request (in process)")
struct HTTPConsoleBreakerTests {
    @Test("after 5 requests in a row that failed, the client calls nothing more in this run; a success in between resets it")
    func breaker() throws {
        let sleeps = Sleeps()
        var policy = ConsoleRetryPolicy()
        policy.sleep = { sleeps.sleep($0) }
        policy.now = { sleeps.now }
        let failing = Array(repeating: ScriptedTransport.Answer.network("timed out"), count: 15)
        let transport = ScriptedTransport(failing + [.response(status: 200, body: #"{"items": null}"#)])
        let c = HTTPConsoleClient(baseURL: "https://api.example", manager: .single(secure("eyJm.a.b")), timeout: 75, policy: policy, transport: transport)
        for _ in 0..<5 { #expect(throws: ConsoleFailure.self) { _ = try c.list() } }
        #expect(transport.count == 15)
        do { _ = try c.list(); Issue.record("must throw") } catch {
            #expect(error.code == "not called: 5 requests in a row failed in this run; the next run retries")
        }
        #expect(transport.count == 15)
    }
}
