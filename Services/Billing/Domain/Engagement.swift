import Foundation

/// One message of the engagement cadence.
struct EngagementStep: Sendable, Equatable {
    var day: Int
    var templateKey: String
    /// The template's link variable and the path under the product's app URL it points to.
    var link: (variable: String, path: String)

    static func == (lhs: EngagementStep, rhs: EngagementStep) -> Bool { lhs.day == rhs.day && lhs.templateKey == rhs.templateKey }
}

/// The engagement cadence: lifecycle messages on days 7, 14, 30, 60 and 90 after activation,
/// and one NPS survey around day 45, for active subscribers only.
enum EngagementRules {
    static let lifecycle: [EngagementStep] = [
        EngagementStep(day: 7, templateKey: "engagement.day_7", link: ("getting_started_url", "/getting-started")),
        EngagementStep(day: 14, templateKey: "engagement.day_14", link: ("features_url", "/features")),
        EngagementStep(day: 30, templateKey: "engagement.day_30", link: ("dashboard_url", "/dashboard")),
        EngagementStep(day: 60, templateKey: "engagement.day_60", link: ("help_url", "/help")),
        EngagementStep(day: 90, templateKey: "engagement.day_90", link: ("referral_url", "/referrals")),
    ]
    static let survey = EngagementStep(day: 45, templateKey: "nps.day_45", link: ("survey_url", "/survey/nps"))
    /// The survey is sent only while its day is recent: from day 45 until day 60.
    static let surveyWindowDays = 15
    /// After the last step the cadence is over.
    static var lastDay: Int { lifecycle.map(\.day).max() ?? 0 }

    /// The steps due for a subscription activated at `activatedAt`, given the templates already
    /// recorded (sent or skipped). Paused, canceled and past-due subscriptions get nothing (and
    /// nothing is recorded, so a resumed one continues). Of the due lifecycle steps only the
    /// latest is sent, the earlier ones are skipped; the survey is skipped once its window passed.
    static func due(status: BillingStatus, activatedAt: Date?, recorded: Set<String>, now: Date) -> [(step: EngagementStep, disposition: StepDisposition)] {
        guard status == .active, let activatedAt else { return [] }
        let age = DunningRules.days(since: activatedAt, now: now)
        var result: [(step: EngagementStep, disposition: StepDisposition)] = []
        let dueLifecycle = lifecycle.filter { $0.day <= age && !recorded.contains($0.templateKey) }
        for step in dueLifecycle { result.append((step, step == dueLifecycle.last ? .send : .skip)) }
        if age >= survey.day, !recorded.contains(survey.templateKey) {
            result.append((survey, age < survey.day + surveyWindowDays ? .send : .skip))
        }
        return result.sorted { $0.step.day < $1.step.day }
    }

    /// `engagement:{subscription}:{template}`.
    static func dedupeKey(subscription: String, templateKey: String) -> String { "engagement:\(subscription):\(templateKey)" }
}
