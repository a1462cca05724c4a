/// A customer's contact details, as notifications need them. This is personal data: it travels
/// only in this event, never copied into others, and is subject to erasure.
public struct CustomerUpserted: EventPayload {
    public static let eventType = "tally.customer.upserted.v1"
    public static let topic = TallyTopic.customers

    public var origin: EventOrigin
    public var customerID: String
    public var email: String?
    public var name: String?
    public var phone: String?
    /// BCP 47, e.g. `pt-BR`.
    public var locale: String?
    /// ISO 3166-1 alpha-2.
    public var country: String?

    public init(origin: EventOrigin, customerID: String, email: String?, name: String?, phone: String?, locale: String?, country: String?) {
        self.origin = origin
        self.customerID = customerID
        self.email = email
        self.name = name
        self.phone = phone
        self.locale = locale
        self.country = country
    }

    public var partitionKey: String { "\(origin.provider.rawValue):\(customerID)" }

    enum CodingKeys: String, CodingKey {
        case origin, customerID = "customer_id", email, name, phone, locale, country
    }
}
