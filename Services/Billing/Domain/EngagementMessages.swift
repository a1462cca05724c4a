import Contracts
import Foundation

/// The notification request of an engagement step: the product's name and one link into the
/// product, for the subscriber the subscription names.
enum EngagementMessages {
    /// What the messages say about the product (`TALLY_BILLING_PRODUCT_NAME`,
    /// `TALLY_BILLING_APP_URL`).
    struct Product: Sendable, Equatable {
        var name: String
        /// The product's base URL, without a trailing slash; links are paths under it.
        var appURL: String
    }

    /// The request for `step`, or nil when the subscription names no customer to write to.
    static func request(_ step: EngagementStep, subscription: SubscriptionProjection, product: Product) -> NotificationRequested? {
        guard let customer = subscription.customerRef, !customer.isEmpty else { return nil }
        return NotificationRequested(
            dedupeKey: EngagementRules.dedupeKey(subscription: subscription.reference.key, templateKey: step.templateKey), templateKey: step.templateKey,
            channels: [.email], recipient: NotificationRecipient(customer: CustomerReference(provider: subscription.reference.provider, customerID: customer)),
            locale: nil, variables: ["product_name": product.name, step.link.variable: product.appURL + step.link.path], notBefore: nil,
            causeType: "billing.engagement")
    }
}
