import ServiceRuntime

/// The finance service's own settings, read after the shared configuration by
/// `ServiceRunner.run(.finance, settings: FinanceSettings.self, definition:)`; a bad value stops the
/// start with exit code 78 and the variable's name.
struct FinanceSettings: ServiceSettings, CustomStringConvertible {
    /// How refunds reach providers (`TALLY_STRIPE_API_BASE_URL`, `TALLY_STRIPE_SECRET_KEY`,
    /// `TALLY_REFUND_TIMEOUT_SECONDS`); with no Stripe key every refund is recorded offline.
    var refunds: RefundClientSettings
    /// Where customers' invoice links point and what signs them (`TALLY_INVOICE_LINK_BASE_URL`,
    /// `TALLY_INVOICE_LINK_SECRET`).
    var invoiceLinks: InvoiceLinkSettings
    /// The pause between runs of finance's jobs (`TALLY_FINANCE_JOB_INTERVAL_SECONDS`, 1 to 3600,
    /// 300 by default): the overdue marking.
    var jobInterval: Duration

    init(
        refunds: RefundClientSettings = RefundClientSettings(),
        invoiceLinks: InvoiceLinkSettings = InvoiceLinkSettings(baseURL: "http://127.0.0.1:8080", secret: String(repeating: "test-invoice-link-secret-", count: 2)),
        jobInterval: Duration = .seconds(300)
    ) {
        self.refunds = refunds
        self.invoiceLinks = invoiceLinks
        self.jobInterval = jobInterval
    }

    init(environment: EnvironmentReader, configuration: ServiceConfiguration) throws(ConfigurationError) {
        self.init(
            refunds: try RefundClientSettings(environment: environment, configuration: configuration),
            invoiceLinks: try InvoiceLinkSettings(environment: environment, configuration: configuration),
            jobInterval: .seconds(try environment.integer("TALLY_FINANCE_JOB_INTERVAL_SECONDS", default: 300, range: 1...3600)))
    }

    /// Never holds a secret.
    var description: String { "FinanceSettings(refunds: \(refunds), invoiceLinks: \(invoiceLinks), jobInterval: \(jobInterval))" }
}
