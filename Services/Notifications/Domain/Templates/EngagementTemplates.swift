/// The engagement cadence: messages on days 7, 14, 30, 60 and 90 of a customer's subscription.
///
/// Variables: `customer_name`, `product_name`, and one link each: `getting_started_url` (day 7),
/// `features_url` (14), `dashboard_url` (30), `help_url` (60), `referral_url` (90). Email only:
/// they are marketing-category messages, which WhatsApp would need approved separately.
enum EngagementTemplates {
    static let all: [NotificationTemplate] = [
        day7English, day7Portuguese, day14English, day14Portuguese, day30English, day30Portuguese, day60English, day60Portuguese,
        day90English, day90Portuguese,
    ]

    /// Sample values for a preview: the names, plus `link` under the template's link variable.
    static func samples(locale: String, link: (name: String, url: String)) -> [String: String] {
        let customer = locale == "pt-BR" ? "Ana Silva" : "Alex Morgan"
        return ["customer_name": customer, "product_name": "Acme Analytics", link.name: link.url]
    }

    // MARK: engagement.day_7

    static let day7English = NotificationTemplate.email(
        key: "engagement.day_7", locale: "en",
        subject: "Getting started with {{product_name}}",
        text: """
            Hi {{customer_name}},

            You have been using {{product_name}} for a week now. Thank you for choosing us.

            Our getting-started guide walks you through the essentials in a few minutes:
            {{getting_started_url}}

            If you have any questions, we are happy to help.
            """,
        content: """
            <p style="\(EmailLayout.paragraph)">Hi {{customer_name}},</p>
            <p style="\(EmailLayout.paragraph)">You have been using {{product_name}} for a week now. Thank you for choosing us.</p>
            <p style="\(EmailLayout.paragraph)">Our getting-started guide walks you through the essentials in a few minutes.</p>
            \(EmailLayout.button(url: "{{getting_started_url}}", label: "Open the guide", hint: EmailLayout.linkHintEnglish))
            <p style="\(EmailLayout.footnote)">If you have any questions, we are happy to help.</p>
            """,
        sampleVariables: samples(locale: "en", link: ("getting_started_url", "https://app.example.com/getting-started")))

    static let day7Portuguese = NotificationTemplate.email(
        key: "engagement.day_7", locale: "pt-BR",
        subject: "Primeiros passos com {{product_name}}",
        text: """
            Olá, {{customer_name}},

            Já faz uma semana que você começou a usar {{product_name}}. Obrigado pela
            confiança.

            Nosso guia de primeiros passos mostra o essencial em poucos minutos:
            {{getting_started_url}}

            Se tiver qualquer dúvida, estamos à disposição para ajudar.
            """,
        content: """
            <p style="\(EmailLayout.paragraph)">Olá, {{customer_name}},</p>
            <p style="\(EmailLayout.paragraph)">Já faz uma semana que você começou a usar {{product_name}}. Obrigado pela confiança.</p>
            <p style="\(EmailLayout.paragraph)">Nosso guia de primeiros passos mostra o essencial em poucos minutos.</p>
            \(EmailLayout.button(url: "{{getting_started_url}}", label: "Abrir o guia", hint: EmailLayout.linkHintPortuguese))
            <p style="\(EmailLayout.footnote)">Se tiver qualquer dúvida, estamos à disposição para ajudar.</p>
            """,
        sampleVariables: samples(locale: "pt-BR", link: ("getting_started_url", "https://app.example.com/getting-started")))

    // MARK: engagement.day_14

    static let day14English = NotificationTemplate.email(
        key: "engagement.day_14", locale: "en",
        subject: "Two weeks with {{product_name}}: features worth a look",
        text: """
            Hi {{customer_name}},

            Two weeks in, you know the basics of {{product_name}}. Here are a few
            features that customers tell us they wish they had found sooner:
            {{features_url}}

            Each one takes only a few minutes to set up.
            """,
        content: """
            <p style="\(EmailLayout.paragraph)">Hi {{customer_name}},</p>
            <p style="\(EmailLayout.paragraph)">Two weeks in, you know the basics of {{product_name}}.
            Here are a few features that customers tell us they wish they had found sooner.</p>
            \(EmailLayout.button(url: "{{features_url}}", label: "See the features", hint: EmailLayout.linkHintEnglish))
            <p style="\(EmailLayout.footnote)">Each one takes only a few minutes to set up.</p>
            """,
        sampleVariables: samples(locale: "en", link: ("features_url", "https://app.example.com/features")))

    static let day14Portuguese = NotificationTemplate.email(
        key: "engagement.day_14", locale: "pt-BR",
        subject: "Duas semanas com {{product_name}}: recursos que valem a pena conhecer",
        text: """
            Olá, {{customer_name}},

            Depois de duas semanas, você já conhece o básico de {{product_name}}.
            Separamos alguns recursos que muitos clientes gostariam de ter descoberto
            antes:
            {{features_url}}

            Cada um leva só alguns minutos para configurar.
            """,
        content: """
            <p style="\(EmailLayout.paragraph)">Olá, {{customer_name}},</p>
            <p style="\(EmailLayout.paragraph)">Depois de duas semanas, você já conhece o básico de {{product_name}}.
            Separamos alguns recursos que muitos clientes gostariam de ter descoberto antes.</p>
            \(EmailLayout.button(url: "{{features_url}}", label: "Conhecer os recursos", hint: EmailLayout.linkHintPortuguese))
            <p style="\(EmailLayout.footnote)">Cada um leva só alguns minutos para configurar.</p>
            """,
        sampleVariables: samples(locale: "pt-BR", link: ("features_url", "https://app.example.com/features")))

    // MARK: engagement.day_30

    static let day30English = NotificationTemplate.email(
        key: "engagement.day_30", locale: "en",
        subject: "Your first month with {{product_name}}",
        text: """
            Hi {{customer_name}},

            It has been a month since you started with {{product_name}}. Your dashboard
            shows what you have achieved so far and what to try next:
            {{dashboard_url}}

            Thank you for being with us.
            """,
        content: """
            <p style="\(EmailLayout.paragraph)">Hi {{customer_name}},</p>
            <p style="\(EmailLayout.paragraph)">It has been a month since you started with {{product_name}}.
            Your dashboard shows what you have achieved so far and what to try next.</p>
            \(EmailLayout.button(url: "{{dashboard_url}}", label: "Open your dashboard", hint: EmailLayout.linkHintEnglish))
            <p style="\(EmailLayout.footnote)">Thank you for being with us.</p>
            """,
        sampleVariables: samples(locale: "en", link: ("dashboard_url", "https://app.example.com/dashboard")))

    static let day30Portuguese = NotificationTemplate.email(
        key: "engagement.day_30", locale: "pt-BR",
        subject: "Seu primeiro mês com {{product_name}}",
        text: """
            Olá, {{customer_name}},

            Já faz um mês que você começou a usar {{product_name}}. No seu painel, você
            vê o que já conquistou até aqui e o que experimentar em seguida:
            {{dashboard_url}}

            Obrigado por estar com a gente.
            """,
        content: """
            <p style="\(EmailLayout.paragraph)">Olá, {{customer_name}},</p>
            <p style="\(EmailLayout.paragraph)">Já faz um mês que você começou a usar {{product_name}}.
            No seu painel, você vê o que já conquistou até aqui e o que experimentar em seguida.</p>
            \(EmailLayout.button(url: "{{dashboard_url}}", label: "Abrir o painel", hint: EmailLayout.linkHintPortuguese))
            <p style="\(EmailLayout.footnote)">Obrigado por estar com a gente.</p>
            """,
        sampleVariables: samples(locale: "pt-BR", link: ("dashboard_url", "https://app.example.com/dashboard")))

    // MARK: engagement.day_60

    static let day60English = NotificationTemplate.email(
        key: "engagement.day_60", locale: "en",
        subject: "How is {{product_name}} working for you?",
        text: """
            Hi {{customer_name}},

            You have been using {{product_name}} for two months. If something is not
            working the way you expected, or you would like help with a particular setup,
            our team is here for you:
            {{help_url}}

            We read every message.
            """,
        content: """
            <p style="\(EmailLayout.paragraph)">Hi {{customer_name}},</p>
            <p style="\(EmailLayout.paragraph)">You have been using {{product_name}} for two months.
            If something is not working the way you expected, or you would like help with a particular setup, our team is here for you.</p>
            \(EmailLayout.button(url: "{{help_url}}", label: "Talk to our team", hint: EmailLayout.linkHintEnglish))
            <p style="\(EmailLayout.footnote)">We read every message.</p>
            """,
        sampleVariables: samples(locale: "en", link: ("help_url", "https://app.example.com/help")))

    static let day60Portuguese = NotificationTemplate.email(
        key: "engagement.day_60", locale: "pt-BR",
        subject: "Como está sendo sua experiência com {{product_name}}?",
        text: """
            Olá, {{customer_name}},

            Você usa {{product_name}} há dois meses. Se algo não estiver funcionando como
            você esperava, ou se quiser ajuda com alguma configuração específica, nossa
            equipe está à disposição:
            {{help_url}}

            Lemos todas as mensagens.
            """,
        content: """
            <p style="\(EmailLayout.paragraph)">Olá, {{customer_name}},</p>
            <p style="\(EmailLayout.paragraph)">Você usa {{product_name}} há dois meses.
            Se algo não estiver funcionando como você esperava, ou se quiser ajuda com alguma configuração específica,
            nossa equipe está à disposição.</p>
            \(EmailLayout.button(url: "{{help_url}}", label: "Falar com a equipe", hint: EmailLayout.linkHintPortuguese))
            <p style="\(EmailLayout.footnote)">Lemos todas as mensagens.</p>
            """,
        sampleVariables: samples(locale: "pt-BR", link: ("help_url", "https://app.example.com/help")))

    // MARK: engagement.day_90

    static let day90English = NotificationTemplate.email(
        key: "engagement.day_90", locale: "en",
        subject: "Three months with {{product_name}}",
        text: """
            Hi {{customer_name}},

            Thank you for three months with {{product_name}}. If it has been useful to
            you, we would be grateful if you shared it with a colleague who could
            benefit too:
            {{referral_url}}

            We look forward to the months ahead.
            """,
        content: """
            <p style="\(EmailLayout.paragraph)">Hi {{customer_name}},</p>
            <p style="\(EmailLayout.paragraph)">Thank you for three months with {{product_name}}.
            If it has been useful to you, we would be grateful if you shared it with a colleague who could benefit too.</p>
            \(EmailLayout.button(url: "{{referral_url}}", label: "Share {{product_name}}", hint: EmailLayout.linkHintEnglish))
            <p style="\(EmailLayout.footnote)">We look forward to the months ahead.</p>
            """,
        sampleVariables: samples(locale: "en", link: ("referral_url", "https://app.example.com/referrals")))

    static let day90Portuguese = NotificationTemplate.email(
        key: "engagement.day_90", locale: "pt-BR",
        subject: "Três meses com {{product_name}}",
        text: """
            Olá, {{customer_name}},

            Obrigado por esses três meses com {{product_name}}. Se tem sido útil para
            você, ficaríamos muito gratos se indicasse {{product_name}} a um colega que
            também possa aproveitar:
            {{referral_url}}

            Seguimos juntos nos próximos meses.
            """,
        content: """
            <p style="\(EmailLayout.paragraph)">Olá, {{customer_name}},</p>
            <p style="\(EmailLayout.paragraph)">Obrigado por esses três meses com {{product_name}}.
            Se tem sido útil para você, ficaríamos muito gratos se indicasse {{product_name}} a um colega que também possa aproveitar.</p>
            \(EmailLayout.button(url: "{{referral_url}}", label: "Indicar {{product_name}}", hint: EmailLayout.linkHintPortuguese))
            <p style="\(EmailLayout.footnote)">Seguimos juntos nos próximos meses.</p>
            """,
        sampleVariables: samples(locale: "pt-BR", link: ("referral_url", "https://app.example.com/referrals")))
}
