import ServiceRuntime

/// The finance service's own settings, read after the shared configuration by
/// `ServiceRunner.run(.finance, settings: FinanceSettings.self, definition:)`; a bad value stops the
/// start with exit code 78 and the variable's name.
struct FinanceSettings: ServiceSettings, CustomStringConvertible {
    /// How refunds reach providers (`TALLY_STRIPE_API_BASE_URL`, `TALLY_STRIPE_SECRET_KEY`,
    /// `TALLY_REFUND_TIMEOUT_SECONDS`); with no Stripe key every refund is recorded offline.
    var refunds: RefundClientSettings

    init(refunds: RefundClientSettings = RefundClientSettings()) {
        self.refunds = refunds
    }

    init(environment: EnvironmentReader, configuration: ServiceConfiguration) throws(ConfigurationError) {
        self.init(refunds: try RefundClientSettings(environment: environment, configuration: configuration))
    }

    /// Never holds a secret.
    var description: String { "FinanceSettings(refunds: \(refunds))" }
}
