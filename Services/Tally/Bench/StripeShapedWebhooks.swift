import Foundation
import WebhookSignatures

/// Stripe `payment_intent.succeeded` events of about 1.5 KB, signed as Stripe signs them.
///
/// Event `n` of a run always has the same id and body, so a duplicate is byte-for-byte the
/// delivery a provider would retry.
struct StripeShapedWebhooks: Sendable {
    /// Distinguishes this run's ids from every other run's.
    let runID: String
    let secret: String

    struct Delivery {
        let body: [UInt8]
        let headers: [(String, String)]
    }

    func eventID(_ n: Int) -> String { "evt_bench_\(runID)_\(n)" }

    func delivery(eventNumber n: Int, signedAt time: Date) -> Delivery {
        let body = Array(body(eventNumber: n).utf8)
        return Delivery(body: body, headers: [(StripeSignatureVerifier.header, StripeSignatureVerifier.sign(body: body, secret: secret, at: time))])
    }

    func body(eventNumber n: Int) -> String {
        let id = eventID(n)
        let tag = String(n, radix: 36)
        let intent = "pi_\(runID)\(tag)"
        let created = 1_795_000_000 + n
        let amount = 1_000 + n % 90_000
        return """
            {"id":"\(id)","object":"event","api_version":"2024-06-20","created":\(created),"livemode":false,\
            "pending_webhooks":1,"request":{"id":"req_\(runID)\(tag)","idempotency_key":"idem-\(runID)-\(tag)"},\
            "type":"payment_intent.succeeded","data":{"object":{"id":"\(intent)","object":"payment_intent",\
            "amount":\(amount),"amount_capturable":0,"amount_received":\(amount),"application":null,\
            "capture_method":"automatic","confirmation_method":"automatic","currency":"usd",\
            "customer":"cus_bench\(tag)","description":"Pro plan, monthly","invoice":"in_bench\(runID)\(tag)",\
            "latest_charge":"ch_bench\(runID)\(tag)","livemode":false,\
            "metadata":{"order_id":"ord_\(tag)","plan":"pro_monthly","seats":"5"},\
            "payment_method":"pm_1QAbcLkdIwHu7ix2Card","payment_method_types":["card"],\
            "payment_method_options":{"card":{"installments":null,"network":null,"request_three_d_secure":"automatic"}},\
            "receipt_email":null,"shipping":null,"statement_descriptor":"TALLY PRO","status":"succeeded",\
            "created":\(created - 2),"amount_details":{"tip":{}},\
            "automatic_payment_methods":{"allow_redirects":"always","enabled":true},\
            "charges":{"object":"list","data":[],"has_more":false,"url":"/v1/charges?payment_intent=\(intent)"},\
            "next_action":null,"on_behalf_of":null,"processing":null,"review":null,"setup_future_usage":null,\
            "source":null,"statement_descriptor_suffix":null,"transfer_data":null,"transfer_group":null}}}
            """
    }
}
