import Contracts
import Foundation

/// A customer's contact details, as the last `customer.upserted` gave them.
struct Contact: Sendable, Equatable {
    var customer: CustomerReference
    var email: String?
    var phone: String?
    var name: String?
    var locale: String?
}

/// A tenant's webhook endpoint, as a delivery needs it.
struct WebhookEndpoint: Sendable, Equatable {
    var id: String
    var url: String
    /// The `whsec_…` signing secret.
    var secret: String
    var active: Bool
}

/// Where one attempt goes.
enum Destination: Sendable, Equatable {
    case email(address: String, name: String?)
    case whatsapp(phone: String)
    case webhook(endpoint: WebhookEndpoint)

    var channel: NotificationChannel {
        switch self {
        case .email: .email
        case .whatsapp: .whatsapp
        case .webhook: .webhook
        }
    }

    /// What the per-recipient limit counts by (hashed before it is stored).
    var limitKey: String {
        switch self {
        case .email(let address, _): "email:" + address.lowercased()
        case .whatsapp(let phone): "whatsapp:" + phone
        case .webhook(let endpoint): "webhook:" + endpoint.id
        }
    }
}

/// How a request's recipient becomes a destination.
enum RecipientResolution: Sendable, Equatable {
    case resolved(Destination, name: String?, locale: String?)
    /// The customer's contact details have not arrived yet (`customer.upserted` may come after
    /// the request): wait, then give up.
    case awaitingContact
    /// Nothing to send to; final. The reason is a stable code: `no_contact`, `no_address`.
    case unreachable(reason: String, detail: String)

    /// Picks the first channel of `channels`, in order, that the recipient has a usable address
    /// for. Contact details come only from `contact` (kept from `customer.upserted`) or from the
    /// request's explicit address; an endpoint must be the org's and active.
    static func resolve(
        _ recipient: NotificationRecipient, channels: [NotificationChannel], contact: Contact?, endpoint: WebhookEndpoint?
    ) -> RecipientResolution {
        let email: String?
        let phone: String?
        let name: String?
        let locale: String?
        if recipient.customer != nil {
            guard let contact else { return .awaitingContact }
            (email, phone, name, locale) = (contact.email, contact.phone, contact.name, contact.locale)
        } else if let address = recipient.address {
            (email, phone, name, locale) = (address.email, address.phone, address.name, nil)
        } else {
            return .unreachable(reason: "no_address", detail: "the request names neither a customer nor an address")
        }
        for channel in channels {
            switch channel {
            case .email:
                if let email, EmailAddressRule.isValid(email) { return .resolved(.email(address: email, name: name), name: name, locale: locale) }
            case .whatsapp:
                if let phone, PhoneNumberRule.isE164(phone) { return .resolved(.whatsapp(phone: phone), name: name, locale: locale) }
            case .webhook:
                if let endpoint, endpoint.active, recipient.address?.endpointID == endpoint.id {
                    return .resolved(.webhook(endpoint: endpoint), name: name, locale: locale)
                }
            }
        }
        let tried = channels.map(\.rawValue).joined(separator: ", ")
        return .unreachable(reason: "no_address", detail: "the recipient has no usable address for any allowed channel (\(tried))")
    }
}

/// A mailbox we are willing to hand to a relay: `local@domain`, no spaces or control characters,
/// at most 254 characters (RFC 5321's path limit).
enum EmailAddressRule {
    private static let forbidden: Set<Character> = ["<", ">", "(", ")", "[", "]", "\\", ",", ";", ":", "\""]

    static func isValid(_ address: String) -> Bool {
        guard address.utf8.count <= 254, address.filter({ $0 == "@" }).count == 1, let at = address.firstIndex(of: "@") else { return false }
        guard address.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value != 0x7F }), !address.contains(where: forbidden.contains) else { return false }
        let local = address[..<at]
        let domain = address[address.index(after: at)...]
        return !local.isEmpty && local.utf8.count <= 64 && domain.contains(".") && !domain.hasPrefix(".") && !domain.hasSuffix(".")
    }
}

/// E.164: a `+`, then 8 to 15 digits, the first not zero.
enum PhoneNumberRule {
    static func isE164(_ phone: String) -> Bool {
        let digits = phone.utf8.dropFirst()
        return phone.hasPrefix("+") && (8...15).contains(digits.count) && digits.first != UInt8(ascii: "0")
            && digits.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
    }
}

/// At most `perHour` messages reach one address in any hour; beyond that, deliveries wait.
struct RecipientLimit: Sendable, Equatable {
    var perHour: Int

    enum Decision: Sendable, Equatable {
        case send
        case wait(until: Date)
    }

    /// `recent` holds when earlier messages reached the address in the hour before `now`.
    func decide(recent: [Date], now: Date) -> Decision {
        let window = recent.filter { $0 > now.addingTimeInterval(-3600) }.sorted()
        guard window.count >= perHour else { return .send }
        // Wait until enough of the oldest ones leave the window.
        return .wait(until: window[window.count - perHour].addingTimeInterval(3600))
    }
}
