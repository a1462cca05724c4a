/// The message finance requests to send a customer the link to an invoice.
///
/// Variables: `customer_name`, `invoice_number`, `amount` and `expires_at` (formatted by the
/// requester for the customer's locale), `invoice_url`. The WhatsApp template's body takes them in
/// `whatsAppBody` order.
enum InvoiceTemplates {
    static let all: [NotificationTemplate] = [linkEnglish, linkPortuguese]

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
}
