import AsyncHTTPClient
import Contracts
import Logging

/// What finance asks a provider to refund.
struct ProviderRefundRequest: Sendable, Equatable {
    /// Tally's refund request id; the provider's idempotency key, so a retry never refunds twice.
    var refundID: String
    /// The provider that took the payment.
    var provider: WebhookProvider
    /// The provider's payment id (for Stripe, the PaymentIntent id `pi_…`).
    var paymentID: String
    /// How much to refund, in the payment's currency; `amountMinor` must be positive.
    var amount: Money
    /// The person's reason, free text of 1 to 200 characters. It may hold personal data: it is sent
    /// to the provider but never logged.
    var reason: String
    /// The HTTP request id of the approval, for the log.
    var requestID: String
}

/// What became of a refund submission.
enum ProviderRefundResult: Sendable, Equatable {
    /// The provider accepted it (for Stripe, status `pending`, `requires_action` or `succeeded`).
    case submitted(providerRefundID: String)
    /// There are no credentials for the provider: the refund is recorded for later replay.
    case offline
    /// A permanent refusal (a 4xx other than 409 and 429, or a refund the provider reports as
    /// failed or canceled): submitting it again will not succeed.
    case refused(reason: String)
}

/// A failure worth retrying later: a network error, a timeout, 429, 409 (the same idempotency key
/// still in flight) or 5xx. Retrying with the same `refundID` is safe. The description never
/// holds a secret key.
struct RefundSubmissionFailure: Error, CustomStringConvertible, Equatable {
    var description: String
}

/// Submits refunds to one payment provider.
protocol ProviderRefundClient: Sendable {
    /// Submits `request` once. Either answers what the provider decided (or `.offline`), or
    /// throws a failure that is worth retrying with the same request.
    func submit(_ request: ProviderRefundRequest) async throws(RefundSubmissionFailure) -> ProviderRefundResult
}

/// Picks the refund client for each provider.
///
/// - Stripe gets a `StripeRefundClient` when a secret key is configured, otherwise the offline
///   client.
/// - Every other provider gets the offline client: Paddle's adjustments API is not wired yet, and
///   Hotmart, Standard Webhooks senders and the product's own backend have no refund API Tally calls.
struct ProviderRefundClients: Sendable {
    /// The Stripe client, or nil to record Stripe refunds offline.
    var stripe: (any ProviderRefundClient)?
    /// Records refunds for later replay; used for every provider without a live client.
    var offline: any ProviderRefundClient

    init(stripe: (any ProviderRefundClient)?, offline: any ProviderRefundClient = OfflineRefundClient()) {
        self.stripe = stripe
        self.offline = offline
    }

    /// The clients `settings` describe, over `httpClient`. The caller owns `httpClient` and shuts
    /// it down when the service stops (or passes `HTTPClient.shared`).
    init(settings: RefundClientSettings, httpClient: HTTPClient, logger: Logger) {
        let stripe: (any ProviderRefundClient)? = settings.stripeSecretKey.map { key in
            StripeRefundClient(
                baseURL: settings.stripeBaseURL, secretKey: key.value, httpClient: httpClient, timeout: settings.timeout, logger: logger)
        }
        self.init(stripe: stripe, offline: OfflineRefundClient(logger: logger))
    }

    /// The client that submits refunds of `provider`'s payments.
    func client(for provider: WebhookProvider) -> any ProviderRefundClient {
        switch provider {
        case .stripe: stripe ?? offline
        case .paddle, .hotmart, .standard, .internal: offline
        }
    }
}
