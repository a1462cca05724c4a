import Foundation

/// An ISO 4217 currency code: three uppercase ASCII letters.
public struct CurrencyCode: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String

    /// Accepts exactly three uppercase ASCII letters; anything else is nil.
    public init?(rawValue: String) {
        guard rawValue.utf8.count == 3, rawValue.utf8.allSatisfy({ (65...90).contains($0) }) else { return nil }
        self.rawValue = rawValue
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let code = CurrencyCode(rawValue: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "'\(text)' is not an ISO 4217 currency code"))
        }
        self = code
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public var description: String { rawValue }

    /// How many decimal places the currency's minor unit has (ISO 4217): 2 for most, 0 for
    /// currencies without a minor unit, 3 for the dinar family.
    public var minorUnitExponent: Int {
        switch rawValue {
        case "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF": 0
        case "BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND": 3
        case "CLF", "UYW": 4
        default: 2
        }
    }
}

/// An amount of money: integer minor units (cents, centavos...) and a currency.
/// There is deliberately no floating-point initializer or accessor.
public struct Money: Hashable, Sendable, Codable, CustomStringConvertible {
    /// The amount in the currency's minor unit; negative for credits and refunds.
    public var amountMinor: Int64
    public var currency: CurrencyCode

    public init(amountMinor: Int64, currency: CurrencyCode) {
        self.amountMinor = amountMinor
        self.currency = currency
    }

    enum CodingKeys: String, CodingKey {
        case amountMinor = "amount_minor"
        case currency
    }

    public var description: String { "\(amountMinor) \(currency) (minor units)" }

    /// Converts a decimal major-unit amount (as some providers send it, e.g. `197.0` BRL) into
    /// minor units. Returns nil when the amount has more decimals than the currency allows or
    /// does not fit: money is never rounded silently.
    public init?(major amount: Decimal, currency: CurrencyCode) {
        var scaled = amount
        for _ in 0..<currency.minorUnitExponent { scaled *= 10 }
        var rounded = Decimal()
        var source = scaled
        NSDecimalRound(&rounded, &source, 0, .plain)
        guard rounded == scaled, let value = Int64(exactly: NSDecimalNumber(decimal: rounded).int64Value as Int64),
            Decimal(value) == rounded
        else { return nil }
        self.init(amountMinor: value, currency: currency)
    }
}

/// Amounts as a customer reads them in a message: the currency code and the major units with
/// the currency's decimals, from integer arithmetic only (`USD 9.80`, `JPY 500`).
public enum MoneyText {
    public static func display(_ money: Money) -> String {
        let exponent = money.currency.minorUnitExponent
        let magnitude = money.amountMinor.magnitude
        let sign = money.amountMinor < 0 ? "-" : ""
        guard exponent > 0 else { return "\(money.currency.rawValue) \(sign)\(magnitude)" }
        var divisor: UInt64 = 1
        for _ in 0..<exponent { divisor *= 10 }
        let fraction = String(magnitude % divisor)
        return "\(money.currency.rawValue) \(sign)\(magnitude / divisor).\(String(repeating: "0", count: exponent - fraction.count))\(fraction)"
    }
}
