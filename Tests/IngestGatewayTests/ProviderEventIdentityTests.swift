import Contracts
import Foundation
import Testing
import WebhookSignatures

@testable import IngestGateway

/// How the gateway reads a webhook's event id and type from its body.
@Suite("Provider event identity")
struct ProviderEventIdentityTests {
    func identity(_ provider: WebhookProvider, _ body: String) -> ProviderEventIdentity? {
        ProviderEventIdentity(provider: provider, request: WebhookRequest(headers: [:], body: Array(body.utf8)))
    }

    @Test func integerIdsKeepEveryDigit() {
        #expect(
            identity(.hotmart, #"{"id": 9007199254740993, "event": "PURCHASE_APPROVED"}"#)?.id == "9007199254740993",
            "one above 2^53: a floating-point read would give ...992, the id of another event")
        #expect(identity(.hotmart, #"{"id": 18446744073709551615, "event": "PURCHASE_APPROVED"}"#)?.id == "18446744073709551615")
        let stripe = identity(.stripe, #"{"id": "evt_1", "type": "charge.refunded"}"#)
        #expect(stripe?.id == "evt_1" && stripe?.type == "charge.refunded")
    }

    @Test func anIdThatIsNotAStringOrAnIntegerIsMissing() {
        #expect(identity(.hotmart, #"{"id": 1.5, "event": "PURCHASE_APPROVED"}"#) == nil)
        #expect(identity(.hotmart, #"{"id": 1e30, "event": "PURCHASE_APPROVED"}"#) == nil)
        #expect(identity(.stripe, #"{"id": "", "type": "charge.refunded"}"#) == nil)
        #expect(identity(.stripe, #"["not", "an", "object"]"#) == nil)
    }
}
