import Contracts
import Foundation
import Hummingbird
import ServiceRuntime
import Storage

/// Admin routes of the ledger under `/admin/orgs/{org}/ledger`: accounts, balances (now or as of
/// a time), an account's statement, transactions, conflicts and their resolution, the
/// consistency check and the hledger journal. Every role reads; resolving a conflict takes the
/// owner or finance role.
struct LedgerRoutes: Sendable {
    let queries: FinanceQueries
    let audit: AuditLog
    let now: @Sendable () -> Date

    func add(to admin: RouterGroup<ServiceRequestContext>) {
        admin.get("ledger/accounts") { _, context -> AccountList in
            let org = try context.requirePrincipal().tenant()
            return AccountList(accounts: try await queries.accounts(org: org).map { AccountList.Account(code: $0.code, kind: $0.kind, createdAt: RFC3339.string($0.createdAt)) })
        }
        admin.get("ledger/balances") { request, context -> BalanceList in
            let org = try context.requirePrincipal().tenant()
            let asOf = try RequestInput.time(request, "as_of")
            return BalanceList(asOf: asOf.map(RFC3339.string), balances: try await queries.balances(org: org, asOf: asOf).map(BalanceList.Line.init))
        }
        admin.get("ledger/accounts/:account/statement") { request, context -> Statement in
            let org = try context.requirePrincipal().tenant()
            let account = try RequestInput.text(context.parameters.get("account"), field: "account", maxCharacters: 200) ?? ""
            guard let currencyText = try request.queryText("currency", maxCharacters: 3) else { throw RequestInput.invalid("currency", "is required") }
            guard let currency = CurrencyCode(rawValue: currencyText) else { throw RequestInput.invalid("currency", "must be an ISO 4217 code such as USD") }
            let after = try request.queryInteger("after", default: Int64(0), range: 0...Int64.max)
            let limit = try RequestInput.limit(request)
            guard
                let (opening, lines) = try await queries.statement(
                    org: org, account: account, currency: currency, from: try RequestInput.time(request, "from"), to: try RequestInput.time(request, "to"), after: after,
                    limit: limit)
            else { throw Problem.notFound("the org's chart of accounts has no account \(account)") }
            var running = opening
            let entries = lines.map { line in
                running += line.amountMinor
                return Statement.Line(
                    transactionID: line.transactionID, sequence: line.sequence, postedAt: RFC3339.string(line.postedAt), key: line.key, kind: line.kind,
                    amountMinor: line.amountMinor, runningBalanceMinor: running)
            }
            return Statement(
                account: account, currency: currency.rawValue, openingBalanceMinor: opening, entries: entries,
                nextCursor: lines.count == limit ? lines.last.map { "\($0.sequence)" } : nil)
        }
        admin.get("ledger/transactions") { request, context -> TransactionList in
            let org = try context.requirePrincipal().tenant()
            let after = try request.queryInteger("after", default: Int64(0), range: 0...Int64.max)
            let limit = try RequestInput.limit(request)
            let transactions = try await queries.transactions(org: org, after: after, limit: limit)
            return TransactionList(
                transactions: transactions.map(TransactionBody.init), nextCursor: transactions.count == limit ? transactions.last.map { "\($0.sequence)" } : nil)
        }
        admin.get("ledger/transactions/:id") { _, context -> TransactionBody in
            let org = try context.requirePrincipal().tenant()
            // An id that is not a transaction number names no transaction: 404 like any unknown id.
            guard let id = context.parameters.get("id").flatMap(Int64.init), id > 0, let transaction = try await queries.transaction(org: org, id: id) else {
                throw Problem.notFound("no such ledger transaction in this org")
            }
            return TransactionBody(transaction)
        }
        admin.get("ledger/conflicts") { request, context -> ConflictList in
            let org = try context.requirePrincipal().tenant()
            let status = try request.queryText("status", maxCharacters: 10) ?? "open"
            guard ["open", "resolved", "all"].contains(status) else { throw RequestInput.invalid("status", "must be open, resolved or all") }
            let after = try request.queryInteger("after", default: Int64(0), range: 0...Int64.max)
            let limit = try RequestInput.limit(request)
            let rows = try await queries.conflicts(org: org, status: status, after: after, limit: limit)
            return ConflictList(conflicts: rows.map(ConflictBody.init), nextCursor: rows.count == limit ? rows.last.map { "\($0.id)" } : nil)
        }
        admin.post("ledger/conflicts/:id/resolve") { request, context -> ConflictBody in
            let principal = try context.requirePrincipal()
            try RequestInput.require(principal, [.owner, .finance], to: "resolving a ledger conflict")
            let input = try await RequestInput.body(ResolveRequest.self, from: request, allowed: ["note"])
            guard let id = context.parameters.get("id").flatMap(Int64.init), id > 0 else { throw Problem.notFound("no such ledger conflict in this org") }
            guard let note = try RequestInput.text(input.note, field: "note", maxCharacters: 500) else { throw RequestInput.invalid("note", "must be 1 to 500 characters") }
            switch try await queries.resolveConflict(
                org: try principal.tenant(), id: id, note: note, actor: principal.subject, correlationID: context.correlationID, audit: audit, now: now())
            {
            case .resolved(let row): return ConflictBody(row)
            case .alreadyResolved: throw Problem(type: "conflict-already-resolved", title: "Already resolved", status: .conflict, detail: "conflict \(id) was resolved already")
            case .unknown: throw Problem.notFound("no ledger conflict \(id) in this org")
            }
        }
        admin.get("ledger/verify") { _, context -> VerificationBody in
            let org = try context.requirePrincipal().tenant()
            let checkedAt = now()
            return VerificationBody(try await queries.verification(org: org, now: checkedAt), checkedAt: checkedAt)
        }
        admin.get("ledger/journal") { request, context -> Response in
            let org = try context.requirePrincipal().tenant()
            let from = try RequestInput.time(request, "from")
            let to = try RequestInput.time(request, "to")
            // A period that ends before it starts holds no transactions (the journal still opens with the balances).
            let text = try await queries.journal(org: org, from: from, to: to, now: now())
            return Response(
                status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
        }
    }
}
