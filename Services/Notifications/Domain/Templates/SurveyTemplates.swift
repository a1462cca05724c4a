/// The survey the engagement cadence sends on day 45: one Net Promoter Score question.
///
/// Variables: `customer_name`, `product_name`, `survey_url`. Email only.
enum SurveyTemplates {
    static let all: [NotificationTemplate] = [npsDay45English, npsDay45Portuguese]

    // MARK: nps.day_45

    static let npsDay45English = NotificationTemplate.email(
        key: "nps.day_45", locale: "en",
        subject: "One question about {{product_name}}",
        text: """
            Hi {{customer_name}},

            How likely are you to recommend {{product_name}} to a friend or colleague?
            Answering takes less than a minute:
            {{survey_url}}

            Your answer goes straight to the team that builds the product.
            """,
        content: """
            <p style="\(EmailLayout.paragraph)">Hi {{customer_name}},</p>
            <p style="\(EmailLayout.paragraph)">How likely are you to recommend {{product_name}} to a friend or colleague?
            Answering takes less than a minute.</p>
            \(EmailLayout.button(url: "{{survey_url}}", label: "Answer the question", hint: EmailLayout.linkHintEnglish))
            <p style="\(EmailLayout.footnote)">Your answer goes straight to the team that builds the product.</p>
            """,
        sampleVariables: [
            "customer_name": "Alex Morgan", "product_name": "Acme Analytics", "survey_url": "https://survey.example.com/nps/8f3k2",
        ])

    static let npsDay45Portuguese = NotificationTemplate.email(
        key: "nps.day_45", locale: "pt-BR",
        subject: "Uma pergunta sobre {{product_name}}",
        text: """
            Olá, {{customer_name}},

            Qual é a probabilidade de você recomendar {{product_name}} a um amigo ou
            colega? Responder leva menos de um minuto:
            {{survey_url}}

            Sua resposta vai direto para a equipe que desenvolve o produto.
            """,
        content: """
            <p style="\(EmailLayout.paragraph)">Olá, {{customer_name}},</p>
            <p style="\(EmailLayout.paragraph)">Qual é a probabilidade de você recomendar {{product_name}} a um amigo ou colega?
            Responder leva menos de um minuto.</p>
            \(EmailLayout.button(url: "{{survey_url}}", label: "Responder à pergunta", hint: EmailLayout.linkHintPortuguese))
            <p style="\(EmailLayout.footnote)">Sua resposta vai direto para a equipe que desenvolve o produto.</p>
            """,
        sampleVariables: [
            "customer_name": "Ana Silva", "product_name": "Acme Analytics", "survey_url": "https://survey.example.com/nps/8f3k2",
        ])
}
