/// The messages finance requests: the link to an invoice (`invoice.link`) and the reminder of an
/// overdue installment (`installment.overdue`).
///
/// `invoice.link` variables: `customer_name`, `invoice_number`, `amount` and `expires_at`
/// (formatted by the requester for the customer's locale), `invoice_url`. The WhatsApp template's
/// body takes them in `whatsAppBody` order.
///
/// `installment.overdue` variables: `customer_name`, `installment` (`2 of 3`), `amount`,
/// `due_date`, `days_late`, `reference` (what to quote when paying).
enum InvoiceTemplates {
    static let all: [NotificationTemplate] = [linkEnglish, linkPortuguese, overdueEnglish, overduePortuguese]

    static let englishSamples: [String: String] = [
        "customer_name": "Alex Morgan", "invoice_number": "INV-2026-0042", "amount": "$49.00", "expires_at": "December 7, 2026",
        "invoice_url": "https://billing.example.com/invoices/in_1QTallyInv",
    ]
    static let portugueseSamples: [String: String] = [
        "customer_name": "Ana Silva", "invoice_number": "QTALLY-0042", "amount": "R$ 149,90", "expires_at": "07/12/2026",
        "invoice_url": "https://billing.example.com/invoices/in_1QTallyInv",
    ]

    /// The order of the WhatsApp template's body parameters `{{1}}` to `{{5}}`.
    static let whatsAppBody = ["customer_name", "invoice_number", "amount", "invoice_url", "expires_at"]

    // MARK: invoice.link

    static let linkEnglish = NotificationTemplate.email(
        key: "invoice.link", locale: "en",
        subject: "Your invoice {{invoice_number}}",
        text: """
            Hi {{customer_name}},

            Your invoice {{invoice_number}} for {{amount}} is ready. You can view,
            download and pay it here:
            {{invoice_url}}

            This link is valid until {{expires_at}}.
            """,
        content: """
            <p style="\(EmailLayout.paragraph)">Hi {{customer_name}},</p>
            <p style="\(EmailLayout.paragraph)">Your invoice {{invoice_number}} for <strong>{{amount}}</strong> is ready.
            You can view, download and pay it online.</p>
            \(EmailLayout.details([("Invoice", "{{invoice_number}}"), ("Amount", "{{amount}}"), ("Link valid until", "{{expires_at}}")]))
            \(EmailLayout.button(url: "{{invoice_url}}", label: "View invoice", hint: EmailLayout.linkHintEnglish))
            """,
        whatsApp: WhatsAppTemplateReference(name: "invoice_link", languageCode: "en", bodyVariables: whatsAppBody),
        sampleVariables: englishSamples)

    static let linkPortuguese = NotificationTemplate.email(
        key: "invoice.link", locale: "pt-BR",
        subject: "Sua fatura {{invoice_number}}",
        text: """
            Olá, {{customer_name}},

            Sua fatura {{invoice_number}}, no valor de {{amount}}, está disponível. Você
            pode visualizá-la, baixá-la e pagá-la neste link:
            {{invoice_url}}

            O link é válido até {{expires_at}}.
            """,
        content: """
            <p style="\(EmailLayout.paragraph)">Olá, {{customer_name}},</p>
            <p style="\(EmailLayout.paragraph)">Sua fatura {{invoice_number}}, no valor de <strong>{{amount}}</strong>, está disponível.
            Você pode visualizá-la, baixá-la e pagá-la on-line.</p>
            \(EmailLayout.details([("Fatura", "{{invoice_number}}"), ("Valor", "{{amount}}"), ("Link válido até", "{{expires_at}}")]))
            \(EmailLayout.button(url: "{{invoice_url}}", label: "Ver fatura", hint: EmailLayout.linkHintPortuguese))
            """,
        whatsApp: WhatsAppTemplateReference(name: "invoice_link", languageCode: "pt_BR", bodyVariables: whatsAppBody),
        sampleVariables: portugueseSamples)

    // MARK: installment.overdue

    static let overdueEnglishSamples: [String: String] = [
        "customer_name": "Alex Morgan", "installment": "2 of 3", "amount": "USD 40.00", "due_date": "2026-12-01", "days_late": "4",
        "reference": "pln_4f1c9e-2",
    ]
    static let overduePortugueseSamples: [String: String] = [
        "customer_name": "Ana Silva", "installment": "2 de 3", "amount": "BRL 149.90", "due_date": "2026-12-01", "days_late": "4",
        "reference": "pln_4f1c9e-2",
    ]
    static let overdueWhatsAppBody = ["customer_name", "installment", "amount", "due_date", "days_late", "reference"]

    static let overdueEnglish = NotificationTemplate.email(
        key: "installment.overdue", locale: "en",
        subject: "Installment {{installment}} is {{days_late}} days overdue",
        text: """
            Hi {{customer_name}},

            Installment {{installment}} of your payment plan, {{amount}}, was due on
            {{due_date}} and is {{days_late}} days overdue. Please pay it quoting the
            reference {{reference}}, or reply to agree a new schedule.
            """,
        content: """
            <p style="\(EmailLayout.paragraph)">Hi {{customer_name}},</p>
            <p style="\(EmailLayout.paragraph)">Installment {{installment}} of your payment plan, <strong>{{amount}}</strong>, was due on
            {{due_date}} and is {{days_late}} days overdue.</p>
            \(EmailLayout.details([("Installment", "{{installment}}"), ("Amount", "{{amount}}"), ("Due", "{{due_date}}"), ("Reference", "{{reference}}")]))
            <p style="\(EmailLayout.paragraph)">Please pay it quoting the reference, or reply to agree a new schedule.</p>
            """,
        whatsApp: WhatsAppTemplateReference(name: "installment_overdue", languageCode: "en", bodyVariables: overdueWhatsAppBody),
        sampleVariables: overdueEnglishSamples)

    static let overduePortuguese = NotificationTemplate.email(
        key: "installment.overdue", locale: "pt-BR",
        subject: "A parcela {{installment}} está {{days_late}} dias em atraso",
        text: """
            Olá, {{customer_name}},

            A parcela {{installment}} do seu plano de pagamento, no valor de {{amount}},
            venceu em {{due_date}} e está {{days_late}} dias em atraso. Pague informando a
            referência {{reference}} ou responda para combinar um novo cronograma.
            """,
        content: """
            <p style="\(EmailLayout.paragraph)">Olá, {{customer_name}},</p>
            <p style="\(EmailLayout.paragraph)">A parcela {{installment}} do seu plano de pagamento, no valor de <strong>{{amount}}</strong>,
            venceu em {{due_date}} e está {{days_late}} dias em atraso.</p>
            \(EmailLayout.details([("Parcela", "{{installment}}"), ("Valor", "{{amount}}"), ("Vencimento", "{{due_date}}"), ("Referência", "{{reference}}")]))
            <p style="\(EmailLayout.paragraph)">Pague informando a referência ou responda para combinar um novo cronograma.</p>
            """,
        whatsApp: WhatsAppTemplateReference(name: "installment_overdue", languageCode: "pt_BR", bodyVariables: overdueWhatsAppBody),
        sampleVariables: overduePortugueseSamples)
}
