import ServiceRuntime

/// The reconciliation service's own settings, read after the shared configuration; a bad value
/// stops the start with exit code 78 and the variable's name.
struct ReconciliationSettings: ServiceSettings, CustomStringConvertible {
    /// The pause between scheduled runs (`TALLY_RECONCILIATION_JOB_INTERVAL_SECONDS`, 1 to 3600,
    /// 300 by default): how late an `expected` check may turn `mismatched` after its window.
    var jobInterval: Duration

    init(jobInterval: Duration = .seconds(300)) { self.jobInterval = jobInterval }

    init(environment: EnvironmentReader, configuration: ServiceConfiguration) throws(ConfigurationError) {
        self.init(jobInterval: .seconds(try environment.integer("TALLY_RECONCILIATION_JOB_INTERVAL_SECONDS", default: 300, range: 1...3600)))
    }

    var description: String { "ReconciliationSettings(jobInterval: \(jobInterval))" }
}
