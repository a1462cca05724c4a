import CRdKafka

/// Facts about the librdkafka this process actually loaded (which may differ from the headers
/// it was compiled against).
public enum KafkaLibrary {
    /// The librdkafka version string, e.g. `2.16.0`.
    public static var version: String { String(cString: rd_kafka_version_str()) }

    /// The librdkafka version as `0xMMmmrrxx`.
    public static var versionNumber: Int32 { rd_kafka_version() }

    /// The oldest librdkafka Tally supports at run time. Older versions cannot parse the
    /// local broker's ApiVersions reply and have consumer bugs fixed in 2.1.
    public static let minimumVersionNumber: Int32 = 0x0210_0000

    /// True when the loaded librdkafka is at least `minimumVersionNumber`.
    public static var isSupportedVersion: Bool { versionNumber >= minimumVersionNumber }
}
