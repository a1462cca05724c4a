import Logging

/// The refund client of a provider without credentials: it sends nothing and answers `.offline`,
/// so the refund stays recorded for a later replay.
///
/// Each submission logs one notice whose message contains `MOCK_REFUND`, with the refund id,
/// request id, provider, payment id, amount in minor units and currency as metadata. The reason is
/// never logged: it is free text and may hold personal data.
struct OfflineRefundClient: ProviderRefundClient {
    static let marker = "MOCK_REFUND"

    var logger: Logger

    init(logger: Logger = Logger(label: "finance.refunds")) {
        self.logger = logger
    }

    /// Never throws and never calls anyone.
    func submit(_ request: ProviderRefundRequest) async -> ProviderRefundResult {
        logger.notice(
            "\(Self.marker): no credentials for the provider, the refund is recorded for later replay",
            metadata: [
                "refund_id": "\(request.refundID)",
                "request_id": "\(request.requestID)",
                "provider": "\(request.provider.rawValue)",
                "payment_id": "\(request.paymentID)",
                "amount_minor": "\(request.amount.amountMinor)",
                "currency": "\(request.amount.currency.rawValue)",
            ])
        return .offline
    }
}
