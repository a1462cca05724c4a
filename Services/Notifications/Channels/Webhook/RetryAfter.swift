import Foundation

/// Reads an HTTP `Retry-After` header (RFC 9110 section 10.2.3): delta-seconds (`120`) or an
/// HTTP-date in any of the three forms recipients must accept (`Sun, 06 Nov 1994 08:49:37 GMT`,
/// `Sunday, 06-Nov-94 08:49:37 GMT`, `Sun Nov  6 08:49:37 1994`).
///
/// Guarantees: the result is between zero and `cap` (a date in the past is zero, a delay beyond
/// `cap` is `cap`), so an endpoint cannot park a delivery for longer than the cap; a value that is
/// neither form is nil (ignored), never an error. Pure: `now` is passed in.
enum RetryAfter {
    /// The longest wait an endpoint can ask for.
    static let defaultCap: Duration = .seconds(86_400)

    static func parse(_ value: String, now: Date, cap: Duration = defaultCap) -> Duration? {
        let text = value.trimmingCharacters(in: .whitespaces)
        guard !text.isEmpty else { return nil }
        let capSeconds = cap.components.seconds
        if text.utf8.allSatisfy({ (0x30...0x39).contains($0) }) {
            // Any run of digits is a delay; one too long for Int64 is beyond every cap.
            guard let seconds = Int64(text) else { return cap }
            return .seconds(min(seconds, capSeconds))
        }
        guard let date = httpDate(text) else { return nil }
        let wait = date.timeIntervalSince(now)
        guard wait > 0 else { return .zero }
        return .seconds(Int64(min(wait.rounded(.up), Double(capSeconds))))
    }

    private static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

    /// An HTTP-date in IMF-fixdate, RFC 850 or asctime form, always UTC; nil for anything else.
    static func httpDate(_ text: String) -> Date? {
        let tokens = text.split(separator: " ", omittingEmptySubsequences: true)
        // (day, month, year, time) in the order each form writes them.
        let fields: [Substring]
        switch tokens.count {
        case 6 where tokens[0].hasSuffix(",") && tokens[5] == "GMT":
            // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
            fields = [tokens[1], tokens[2], tokens[3], tokens[4]]
        case 4 where tokens[0].hasSuffix(",") && tokens[3] == "GMT":
            // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
            let parts = tokens[1].split(separator: "-", omittingEmptySubsequences: false)
            guard parts.count == 3 else { return nil }
            fields = [parts[0], parts[1], parts[2], tokens[2]]
        case 5:
            // asctime: Sun Nov  6 08:49:37 1994
            fields = [tokens[2], tokens[1], tokens[4], tokens[3]]
        default:
            return nil
        }
        let (day, month, year, time) = (fields[0], fields[1], fields[2], fields[3])
        guard let monthIndex = months.firstIndex(of: month.lowercased()),
            let dayNumber = number(day, digits: 1...2), (1...31).contains(dayNumber),
            var yearNumber = number(year, digits: 2...4)
        else { return nil }
        if year.utf8.count == 2 { yearNumber += yearNumber < 70 ? 2000 : 1900 }
        let clock = time.split(separator: ":", omittingEmptySubsequences: false)
        guard clock.count == 3, let hour = number(clock[0], digits: 2...2), let minute = number(clock[1], digits: 2...2),
            let second = number(clock[2], digits: 2...2), hour < 24, minute < 60, second < 61
        else { return nil }
        let days = daysSinceEpoch(year: yearNumber, month: monthIndex + 1, day: dayNumber)
        return Date(timeIntervalSince1970: TimeInterval(days * 86_400 + hour * 3_600 + minute * 60 + second))
    }

    private static func number(_ text: Substring, digits: ClosedRange<Int>) -> Int? {
        guard digits.contains(text.utf8.count), text.utf8.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
        return Int(text)
    }

    /// Days from 1970-01-01 to the proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
    static func daysSinceEpoch(year: Int, month: Int, day: Int) -> Int {
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = (shiftedYear >= 0 ? shiftedYear : shiftedYear - 399) / 400
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
