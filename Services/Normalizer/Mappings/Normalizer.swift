import Contracts
import Foundation

/// Chooses the mapping for a raw webhook's provider and decodes its stored bytes.
struct Normalizer: Sendable {
    func normalize(_ raw: WebhookReceived) throws(MalformedPayload) -> Normalization {
        guard let body = Data(base64Encoded: raw.bodyBase64) else {
            throw MalformedPayload("the raw webhook body is not valid base64")
        }
        let mapping: (any ProviderMapping)? =
            switch raw.provider {
            case .stripe: StripeMapping()
            case .paddle: PaddleMapping()
            case .hotmart: HotmartMapping()
            case .internal: InternalMapping()
            case .standard: nil
            }
        // A generic Standard-Webhooks sender has no schema Tally knows.
        guard let mapping else { return .ignored("\(raw.provider.rawValue) events have no canonical mapping") }
        return try mapping.normalize(raw, body: Array(body))
    }
}
