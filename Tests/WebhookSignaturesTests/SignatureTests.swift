import Contracts
import Crypto
import Foundation
import Testing
import WebhookSignatures

/// Every scheme is checked against signatures made (or verified) by the provider's own SDK.
@Suite("Webhook signature schemes", .enabled(if: ProviderSDK.available || ProcessInfo.processInfo.environment["TALLY_REQUIRE_INTEGRATION"] == "1"))
struct SignatureTests {
    let body = Array(#"{"id":"evt_1QAbc2Def3","type":"payment_intent.succeeded","data":{"object":{"amount":1999,"currency":"usd"}}}"#.utf8)
    let now = Date(timeIntervalSince1970: 1_795_334_400)
    var unix: String { String(Int64(now.timeIntervalSince1970)) }

    // MARK: Stripe

    @Test func stripeAcceptsTheSDKsSignatureAndRefusesTampering() throws {
        let secret = WebhookSecret(id: "s1", value: "whsec_test_0123456789abcdef")
        let header = try ProviderSDK.run(["stripe-sign", secret.value, unix], body: body)
        let verifier = StripeSignatureVerifier()
        let delivery = try verifier.verify(WebhookRequest(headers: ["Stripe-Signature": header], body: body), secrets: [secret], now: now)
        #expect(delivery.secretID == "s1")

        var tampered = body
        tampered[tampered.count - 3] = UInt8(ascii: "X")
        #expect(throws: WebhookRefusal.badSignature) {
            try verifier.verify(WebhookRequest(headers: ["stripe-signature": header], body: tampered), secrets: [secret], now: now)
        }
        #expect(throws: WebhookRefusal.badSignature) {
            try verifier.verify(WebhookRequest(headers: ["Stripe-Signature": header], body: body), secrets: [WebhookSecret(id: "other", value: "whsec_other_source")], now: now)
        }
    }

    @Test func stripeToleranceIsEnforcedInBothDirections() throws {
        let secret = WebhookSecret(id: "s1", value: "whsec_tolerance")
        let header = try ProviderSDK.run(["stripe-sign", secret.value, unix], body: body)
        let request = WebhookRequest(headers: ["Stripe-Signature": header], body: body)
        let verifier = StripeSignatureVerifier(tolerance: .seconds(300))
        _ = try verifier.verify(request, secrets: [secret], now: now.addingTimeInterval(300))
        _ = try verifier.verify(request, secrets: [secret], now: now.addingTimeInterval(-300))
        #expect(throws: WebhookRefusal.staleTimestamp) { try verifier.verify(request, secrets: [secret], now: now.addingTimeInterval(301)) }
        #expect(throws: WebhookRefusal.futureTimestamp) { try verifier.verify(request, secrets: [secret], now: now.addingTimeInterval(-301)) }
    }

    @Test func stripeAcceptsAnyOfSeveralSignaturesAndOurSignerMatchesTheSDK() throws {
        let old = WebhookSecret(id: "old", value: "whsec_old_secret")
        let new = WebhookSecret(id: "new", value: "whsec_new_secret")
        let oldSigned = StripeSignatureVerifier.sign(body: body, secret: old.value, at: now)
        let newSigned = StripeSignatureVerifier.sign(body: body, secret: new.value, at: now)
        let v1New = newSigned.split(separator: ",")[1]
        let both = "\(oldSigned),\(v1New),v0=deadbeef"
        try ProviderSDK.run(["stripe-verify", new.value, both, String(Int64(Date().timeIntervalSince1970 - now.timeIntervalSince1970) + 60)], body: body)
        let delivery = try StripeSignatureVerifier().verify(WebhookRequest(headers: ["Stripe-Signature": both], body: body), secrets: [new], now: now)
        #expect(delivery.secretID == "new")
    }

    @Test func stripeRefusesMissingAndGarbledHeaders() {
        let secret = [WebhookSecret(id: "s", value: "whsec_x")]
        let verifier = StripeSignatureVerifier()
        #expect(throws: WebhookRefusal.missingHeader("Stripe-Signature")) { try verifier.verify(WebhookRequest(headers: [:], body: body), secrets: secret, now: now) }
        for garbled in ["t=abc,v1=00", "v1=\(String(repeating: "a", count: 64))", "t=\(unix)", "t=\(unix),v1=zz", "nonsense"] {
            #expect(throws: WebhookRefusal.malformedHeader("Stripe-Signature"), "\(garbled)") {
                try verifier.verify(WebhookRequest(headers: ["Stripe-Signature": garbled], body: body), secrets: secret, now: now)
            }
        }
        #expect(throws: WebhookRefusal.misconfiguredSource) {
            try verifier.verify(WebhookRequest(headers: ["Stripe-Signature": "t=1,v1=00"], body: body), secrets: [], now: now)
        }
    }

    // MARK: Paddle

    @Test func paddleSignaturesAreAcceptedByPaddlesSDKAndByUs() throws {
        let secret = WebhookSecret(id: "p1", value: "pdl_ntfset_01hv8wxqpt_0123456789abcdef")
        let fresh = Date()
        let header = PaddleSignatureVerifier.sign(body: body, secret: secret.value, at: fresh)
        try ProviderSDK.run(["paddle-verify", secret.value, header], body: body)
        #expect(throws: ProviderSDK.SDKFailure.self, "Paddle's SDK refuses a wrong secret") {
            try ProviderSDK.run(["paddle-verify", "pdl_ntfset_wrong", header], body: body)
        }
        let verifier = PaddleSignatureVerifier()
        _ = try verifier.verify(WebhookRequest(headers: ["Paddle-Signature": header], body: body), secrets: [secret], now: fresh)
        #expect(throws: WebhookRefusal.badSignature) {
            try verifier.verify(WebhookRequest(headers: ["Paddle-Signature": header], body: body + [0x20]), secrets: [secret], now: fresh)
        }
        #expect(throws: WebhookRefusal.staleTimestamp) {
            try verifier.verify(WebhookRequest(headers: ["Paddle-Signature": header], body: body), secrets: [secret], now: fresh.addingTimeInterval(301))
        }
        #expect(throws: WebhookRefusal.futureTimestamp) {
            try verifier.verify(WebhookRequest(headers: ["Paddle-Signature": header], body: body), secrets: [secret], now: fresh.addingTimeInterval(-301))
        }
        #expect(throws: WebhookRefusal.malformedHeader("Paddle-Signature")) {
            try verifier.verify(WebhookRequest(headers: ["Paddle-Signature": "ts=1;h2=abc"], body: body), secrets: [secret], now: fresh)
        }
    }

    // MARK: Standard Webhooks and Svix

    @Test(arguments: ["standard-sign", "svix-sign"])
    func standardWebhooksAcceptsTheSDKsSignature(_ command: String) throws {
        let secret = WebhookSecret(id: "w1", value: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        let signature = try ProviderSDK.run([command, secret.value, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", unix], body: body)
        let prefix = command == "svix-sign" ? "svix" : "webhook"
        let headers = ["\(prefix)-id": "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", "\(prefix)-timestamp": unix, "\(prefix)-signature": signature]
        let verifier = StandardWebhooksVerifier()
        let delivery = try verifier.verify(WebhookRequest(headers: headers, body: body), secrets: [secret], now: now)
        #expect(delivery.messageID == "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W")
        #expect(StandardWebhooksVerifier.sign(id: "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", timestamp: now, body: body, secret: secret.value) == signature)

        var otherID = headers
        otherID["\(prefix)-id"] = "msg_replayed_under_another_id"
        #expect(throws: WebhookRefusal.badSignature) { try verifier.verify(WebhookRequest(headers: otherID, body: body), secrets: [secret], now: now) }
        #expect(throws: WebhookRefusal.staleTimestamp) { try verifier.verify(WebhookRequest(headers: headers, body: body), secrets: [secret], now: now.addingTimeInterval(301)) }
        #expect(throws: WebhookRefusal.futureTimestamp) { try verifier.verify(WebhookRequest(headers: headers, body: body), secrets: [secret], now: now.addingTimeInterval(-301)) }
        var missing = headers
        missing["\(prefix)-timestamp"] = nil
        #expect(throws: WebhookRefusal.missingHeader("\(prefix)-timestamp")) { try verifier.verify(WebhookRequest(headers: missing, body: body), secrets: [secret], now: now) }
        var nonNumeric = headers
        nonNumeric["\(prefix)-timestamp"] = "12e9"
        #expect(throws: WebhookRefusal.malformedHeader("\(prefix)-timestamp")) { try verifier.verify(WebhookRequest(headers: nonNumeric, body: body), secrets: [secret], now: now) }
    }

    @Test func standardWebhooksChecksEverySpaceSeparatedSignatureIncludingEd25519() throws {
        let privateKey = Curve25519.Signing.PrivateKey()
        let publicSecret = WebhookSecret(id: "pk", value: "whpk_" + privateKey.publicKey.rawRepresentation.base64EncodedString())
        let content = Data("msg_1.\(unix).".utf8) + Data(body)
        let asymmetric = "v1a," + (try privateKey.signature(for: content)).base64EncodedString()
        let unrelated = StandardWebhooksVerifier.sign(id: "msg_1", timestamp: now, body: body, secret: "whsec_" + Data(repeating: 7, count: 24).base64EncodedString())!
        let headers = ["webhook-id": "msg_1", "webhook-timestamp": unix, "webhook-signature": "v2,ignored \(unrelated) \(asymmetric)"]
        let delivery = try StandardWebhooksVerifier().verify(WebhookRequest(headers: headers, body: body), secrets: [publicSecret], now: now)
        #expect(delivery.secretID == "pk")
        #expect(throws: WebhookRefusal.badSignature) {
            try StandardWebhooksVerifier().verify(WebhookRequest(headers: headers, body: body + [0x0A]), secrets: [publicSecret], now: now)
        }
        #expect(throws: WebhookRefusal.misconfiguredSource, "an unparseable secret leaves no verifier") {
            try StandardWebhooksVerifier().verify(WebhookRequest(headers: headers, body: body), secrets: [WebhookSecret(id: "bad", value: "whsec_***")], now: now)
        }
    }

    // MARK: Hotmart

    @Test func hotmartComparesTheTokenAndIsLowTrust() throws {
        let secret = WebhookSecret(id: "h1", value: "hottok-7f3a9c")
        let verifier = HotmartTokenVerifier()
        _ = try verifier.verify(WebhookRequest(headers: ["X-HOTMART-HOTTOK": "hottok-7f3a9c"], body: body), secrets: [secret], now: now)
        #expect(throws: WebhookRefusal.badSignature) {
            try verifier.verify(WebhookRequest(headers: ["x-hotmart-hottok": "hottok-7f3a9d"], body: body), secrets: [secret], now: now)
        }
        #expect(throws: WebhookRefusal.missingHeader("X-HOTMART-HOTTOK")) {
            try verifier.verify(WebhookRequest(headers: [:], body: body), secrets: [secret], now: now)
        }
        #expect(!WebhookProvider.hotmart.provesOrigin)
        #expect(WebhookProvider.stripe.provesOrigin)
    }

    @Test func constantTimeEqualityIsStillEquality() {
        #expect(ConstantTime.equal(Array("abc".utf8), Array("abc".utf8)))
        #expect(!ConstantTime.equal(Array("abc".utf8), Array("abd".utf8)))
        #expect(!ConstantTime.equal(Array("abc".utf8), Array("abcd".utf8)))
    }
}
