/// The messages billing's dunning steps request when an invoice's payment fails: the first
/// notice, a reminder, the notice that access is blocked, and the final notice.
///
/// Variables: `customer_name`, `amount` and `due_date` (formatted by the requester for the
/// customer's locale), `invoice_number`, `pay_url`. Each has a WhatsApp template whose body takes
/// them in `whatsAppBody` order.
enum DunningTemplates {
    static let all: [NotificationTemplate] = [
        paymentFailedEnglish, paymentFailedPortuguese, reminderEnglish, reminderPortuguese, accessBlockedEnglish, accessBlockedPortuguese,
        finalNoticeEnglish, finalNoticePortuguese,
    ]

    static let englishSamples: [String: String] = [
        "customer_name": "Alex Morgan", "amount": "$49.00", "invoice_number": "INV-2026-0042", "due_date": "November 30, 2026",
        "pay_url": "https://billing.example.com/pay/in_1QTallyInv",
    ]
    static let portugueseSamples: [String: String] = [
        "customer_name": "Ana Silva", "amount": "R$ 149,90", "invoice_number": "QTALLY-0042", "due_date": "30/11/2026",
        "pay_url": "https://billing.example.com/pay/in_1QTallyInv",
    ]

    /// The order of the WhatsApp templates' body parameters `{{1}}` to `{{5}}`.
    static let whatsAppBody = ["customer_name", "amount", "invoice_number", "due_date", "pay_url"]

    private static let englishDetails = EmailLayout.details([
        ("Invoice", "{{invoice_number}}"), ("Amount", "{{amount}}"), ("Due date", "{{due_date}}"),
    ])
    private static let portugueseDetails = EmailLayout.details([
        ("Fatura", "{{invoice_number}}"), ("Valor", "{{amount}}"), ("Vencimento", "{{due_date}}"),
    ])
    private static let englishButton = EmailLayout.button(url: "{{pay_url}}", label: "Pay invoice", hint: EmailLayout.linkHintEnglish)
    private static let portugueseButton = EmailLayout.button(url: "{{pay_url}}", label: "Pagar fatura", hint: EmailLayout.linkHintPortuguese)

    // MARK: dunning.payment_failed

    static let paymentFailedEnglish = NotificationTemplate.email(
        key: "dunning.payment_failed", locale: "en",
        subject: "Payment failed for invoice {{invoice_number}}",
        text: """
            Hi {{customer_name}},

            We tried to charge {{amount}} for invoice {{invoice_number}}, but the payment
            did not go through. This can happen when a card has expired, has reached its
            limit or was declined by the bank.

            To keep your account active, please pay by {{due_date}}:
            {{pay_url}}

            If you have already paid, you can ignore this message.
            """,
        content: """
            <p style="\(EmailLayout.paragraph)">Hi {{customer_name}},</p>
            <p style="\(EmailLayout.paragraph)">We tried to charge <strong>{{amount}}</strong> for invoice {{invoice_number}},
            but the payment did not go through. This can happen when a card has expired, has reached its limit or was declined by the bank.</p>
            \(englishDetails)
            <p style="\(EmailLayout.paragraph)">To keep your account active, please pay by {{due_date}}.</p>
            \(englishButton)
            <p style="\(EmailLayout.footnote)">If you have already paid, you can ignore this message.</p>
            """,
        whatsApp: WhatsAppTemplateReference(name: "dunning_payment_failed", languageCode: "en", bodyVariables: whatsAppBody),
        sampleVariables: englishSamples)

    static let paymentFailedPortuguese = NotificationTemplate.email(
        key: "dunning.payment_failed", locale: "pt-BR",
        subject: "Falha no pagamento da fatura {{invoice_number}}",
        text: """
            Olá, {{customer_name}},

            Tentamos cobrar {{amount}} referente à fatura {{invoice_number}}, mas o
            pagamento não foi aprovado. Isso pode acontecer quando o cartão está vencido,
            sem limite disponível ou foi recusado pelo banco.

            Para manter sua conta ativa, faça o pagamento até {{due_date}}:
            {{pay_url}}

            Se você já pagou, desconsidere esta mensagem.
            """,
        content: """
            <p style="\(EmailLayout.paragraph)">Olá, {{customer_name}},</p>
            <p style="\(EmailLayout.paragraph)">Tentamos cobrar <strong>{{amount}}</strong> referente à fatura {{invoice_number}},
            mas o pagamento não foi aprovado. Isso pode acontecer quando o cartão está vencido, sem limite disponível ou foi recusado pelo banco.</p>
            \(portugueseDetails)
            <p style="\(EmailLayout.paragraph)">Para manter sua conta ativa, faça o pagamento até {{due_date}}.</p>
            \(portugueseButton)
            <p style="\(EmailLayout.footnote)">Se você já pagou, desconsidere esta mensagem.</p>
            """,
        whatsApp: WhatsAppTemplateReference(name: "dunning_payment_failed", languageCode: "pt_BR", bodyVariables: whatsAppBody),
        sampleVariables: portugueseSamples)

    // MARK: dunning.reminder

    static let reminderEnglish = NotificationTemplate.email(
        key: "dunning.reminder", locale: "en",
        subject: "Reminder: invoice {{invoice_number}} is still unpaid",
        text: """
            Hi {{customer_name}},

            A quick reminder: invoice {{invoice_number}} for {{amount}} is still open.
            Please pay by {{due_date}} to avoid any interruption to your service.

            Pay now: {{pay_url}}

            If you have already paid, you can ignore this message.
            """,
        content: """
            <p style="\(EmailLayout.paragraph)">Hi {{customer_name}},</p>
            <p style="\(EmailLayout.paragraph)">A quick reminder: invoice {{invoice_number}} for <strong>{{amount}}</strong> is still open.
            Please pay by {{due_date}} to avoid any interruption to your service.</p>
            \(englishDetails)
            \(englishButton)
            <p style="\(EmailLayout.footnote)">If you have already paid, you can ignore this message.</p>
            """,
        whatsApp: WhatsAppTemplateReference(name: "dunning_reminder", languageCode: "en", bodyVariables: whatsAppBody),
        sampleVariables: englishSamples)

    static let reminderPortuguese = NotificationTemplate.email(
        key: "dunning.reminder", locale: "pt-BR",
        subject: "Lembrete: a fatura {{invoice_number}} continua em aberto",
        text: """
            Olá, {{customer_name}},

            Este é um lembrete de que a fatura {{invoice_number}}, no valor de {{amount}},
            continua em aberto. Faça o pagamento até {{due_date}} para evitar a
            interrupção do serviço.

            Pagar agora: {{pay_url}}

            Se você já pagou, desconsidere esta mensagem.
            """,
        content: """
            <p style="\(EmailLayout.paragraph)">Olá, {{customer_name}},</p>
            <p style="\(EmailLayout.paragraph)">Este é um lembrete de que a fatura {{invoice_number}}, no valor de <strong>{{amount}}</strong>,
            continua em aberto. Faça o pagamento até {{due_date}} para evitar a interrupção do serviço.</p>
            \(portugueseDetails)
            \(portugueseButton)
            <p style="\(EmailLayout.footnote)">Se você já pagou, desconsidere esta mensagem.</p>
            """,
        whatsApp: WhatsAppTemplateReference(name: "dunning_reminder", languageCode: "pt_BR", bodyVariables: whatsAppBody),
        sampleVariables: portugueseSamples)

    // MARK: dunning.access_blocked

    static let accessBlockedEnglish = NotificationTemplate.email(
        key: "dunning.access_blocked", locale: "en",
        subject: "Your access is on hold: invoice {{invoice_number}} is unpaid",
        text: """
            Hi {{customer_name}},

            Invoice {{invoice_number}} for {{amount}} is still unpaid, so we have put your
            access on hold. Nothing is deleted: as soon as the invoice is paid, access comes
            back on its own.

            Pay now: {{pay_url}}

            The invoice was due on {{due_date}}. If you have already paid, please reply so we
            can check.
            """,
        content: """
            <p style="\(EmailLayout.paragraph)">Hi {{customer_name}},</p>
            <p style="\(EmailLayout.paragraph)">Invoice {{invoice_number}} for <strong>{{amount}}</strong> is still unpaid, so we have put your
            access on hold. Nothing is deleted: as soon as the invoice is paid, access comes back on its own.</p>
            \(englishDetails)
            \(englishButton)
            <p style="\(EmailLayout.footnote)">If you have already paid, please reply so we can check.</p>
            """,
        whatsApp: WhatsAppTemplateReference(name: "dunning_access_blocked", languageCode: "en", bodyVariables: whatsAppBody),
        sampleVariables: englishSamples)

    static let accessBlockedPortuguese = NotificationTemplate.email(
        key: "dunning.access_blocked", locale: "pt-BR",
        subject: "Acesso suspenso: a fatura {{invoice_number}} está em aberto",
        text: """
            Olá, {{customer_name}},

            A fatura {{invoice_number}}, no valor de {{amount}}, continua em aberto, por isso
            suspendemos o seu acesso. Nada foi apagado: assim que a fatura for paga, o
            acesso volta automaticamente.

            Pagar agora: {{pay_url}}

            O vencimento era {{due_date}}. Se você já pagou, responda a esta mensagem para
            que possamos verificar.
            """,
        content: """
            <p style="\(EmailLayout.paragraph)">Olá, {{customer_name}},</p>
            <p style="\(EmailLayout.paragraph)">A fatura {{invoice_number}}, no valor de <strong>{{amount}}</strong>, continua em aberto, por isso
            suspendemos o seu acesso. Nada foi apagado: assim que a fatura for paga, o acesso volta automaticamente.</p>
            \(portugueseDetails)
            \(portugueseButton)
            <p style="\(EmailLayout.footnote)">Se você já pagou, responda a esta mensagem para que possamos verificar.</p>
            """,
        whatsApp: WhatsAppTemplateReference(name: "dunning_access_blocked", languageCode: "pt_BR", bodyVariables: whatsAppBody),
        sampleVariables: portugueseSamples)

    // MARK: dunning.final_notice

    static let finalNoticeEnglish = NotificationTemplate.email(
        key: "dunning.final_notice", locale: "en",
        subject: "Final notice: invoice {{invoice_number}} is overdue",
        text: """
            Hi {{customer_name}},

            We have still not been able to collect {{amount}} for invoice
            {{invoice_number}}. This is our final notice: if the invoice is not paid by
            {{due_date}}, your subscription will be canceled.

            Pay now: {{pay_url}}

            If you think this is a mistake, or you need more time, please get in touch
            with us.
            """,
        content: """
            <p style="\(EmailLayout.paragraph)">Hi {{customer_name}},</p>
            <p style="\(EmailLayout.paragraph)">We have still not been able to collect <strong>{{amount}}</strong> for invoice {{invoice_number}}.
            This is our final notice: if the invoice is not paid by <strong>{{due_date}}</strong>, your subscription will be canceled.</p>
            \(englishDetails)
            \(englishButton)
            <p style="\(EmailLayout.footnote)">If you think this is a mistake, or you need more time, please get in touch with us.</p>
            """,
        whatsApp: WhatsAppTemplateReference(name: "dunning_final_notice", languageCode: "en", bodyVariables: whatsAppBody),
        sampleVariables: englishSamples)

    static let finalNoticePortuguese = NotificationTemplate.email(
        key: "dunning.final_notice", locale: "pt-BR",
        subject: "Último aviso: a fatura {{invoice_number}} está vencida",
        text: """
            Olá, {{customer_name}},

            Ainda não conseguimos receber {{amount}} referente à fatura {{invoice_number}}.
            Este é o último aviso: se a fatura não for paga até {{due_date}}, sua
            assinatura será cancelada.

            Pagar agora: {{pay_url}}

            Se você acredita que houve um engano, ou se precisa de mais prazo, entre em
            contato conosco.
            """,
        content: """
            <p style="\(EmailLayout.paragraph)">Olá, {{customer_name}},</p>
            <p style="\(EmailLayout.paragraph)">Ainda não conseguimos receber <strong>{{amount}}</strong> referente à fatura {{invoice_number}}.
            Este é o último aviso: se a fatura não for paga até <strong>{{due_date}}</strong>, sua assinatura será cancelada.</p>
            \(portugueseDetails)
            \(portugueseButton)
            <p style="\(EmailLayout.footnote)">Se você acredita que houve um engano, ou se precisa de mais prazo, entre em contato conosco.</p>
            """,
        whatsApp: WhatsAppTemplateReference(name: "dunning_final_notice", languageCode: "pt_BR", bodyVariables: whatsAppBody),
        sampleVariables: portugueseSamples)
}
