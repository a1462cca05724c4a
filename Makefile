# Tally developer entry points: ops/stack.sh bootstraps, ops/tallystack/ does the rest.
STACK := bash ops/stack.sh

.DEFAULT_GOAL := help
.PHONY: help bootstrap build up down status logs check test crash bench clean format

help: ## list the targets and the knobs
	@echo "Tally targets:"
	@echo "  make bootstrap   install system packages, Tansu, librdkafka 2.16, python test packages"
	@echo "  make build       swift build (TALLY_BUILD_CONFIG=release for a release build)"
	@echo "  make up          start PostgreSQL, Tansu, topics and the built services (.run/local)"
	@echo "  make down        stop everything 'make up' started"
	@echo "  make status      show components, pids, ports and health"
	@echo "  make logs        tail all logs (make logs NAME=billing for one)"
	@echo "  make check       Swift unit tests that need no stack (no PostgreSQL, no broker); builds the tests first"
	@echo "  make test        isolated PostgreSQL + Tansu: swift build/test, e2e + short crash test, contract tests"
	@echo "  make test ONLY=StorageTests"
	@echo "                   one Swift test target (swift test --filter StorageTests) on the isolated stack;"
	@echo "                   skips e2e, the crash test and the contract tests"
	@echo "  make format      apply .swift-format to the Swift sources (make test fails on any difference)"
	@echo "  make crash       crash test against the running stack (ARGS=\"--count 20000\" for the long form)"
	@echo "  make bench       release build, local stack, pgbench reference and load phases (ARGS passed on)"
	@echo "  make clean       make down and remove .run/"
	@echo ""
	@echo "Knobs (environment variables; defaults in brackets):"
	@echo "  ports, local stack   TALLY_PG_PORT [55432]  TALLY_KAFKA_PORT [19092]"
	@echo "                       TALLY_<SERVICE>_PORT [ops/services.txt, 8081-8087], e.g. TALLY_INGEST_GATEWAY_PORT"
	@echo "                       TALLY_SMTP_SINK_PORT [2525]  TALLY_SMTP_FALLBACK_SINK_PORT [2526] (sidecars, ops/sidecars.txt)"
	@echo "  ports, test stack    TALLY_TEST_PG_PORT [56432]  TALLY_TEST_KAFKA_PORT [29092]"
	@echo "                       TALLY_TEST_PORT_OFFSET [10000]: test services listen on their port + this"
	@echo "  build                TALLY_BUILD_CONFIG [debug]  TALLY_SKIP_BUILD=1 (up, build, check, test: use the built binaries)"
	@echo "  tools                TALLY_PG_BIN [/usr/lib/postgresql/15/bin]  TALLY_PYTHON [python3]"
	@echo "  timeouts (seconds)   TALLY_START_TIMEOUT [30]  TALLY_STOP_TIMEOUT [10]  TALLY_HEALTH_TIMEOUT [20]"
	@echo "  make test            ONLY=<TestTarget>  TALLY_SKIP_SWIFT_TESTS=1  TALLY_SKIP_E2E=1 (also skips the crash test)"
	@echo "                       TALLY_TEST_ARGS (appended to swift test, e.g. \"--filter Outbox\")"
	@echo "                       TALLY_CRASH_COUNT [1000]: webhooks the short crash test sends"
	@echo "                       TALLY_OPENAPI_SEED [20260415]  TALLY_OPENAPI_MAX_EXAMPLES [50]"
	@echo "                       TALLY_OPENAPI_BUDGET_SECONDS [420]: ops/e2e/openapi_acceptance.py (schemathesis)"
	@echo "  Swift tests          TALLY_UPDATE_GOLDEN=1 rewrites the golden files (normalizer mappings, contract fixtures)"
	@echo "                       TALLY_REQUIRE_INTEGRATION=1 (make test sets it): integration suites fail without a stack"
	@echo "  make crash           TALLY_CRASH_COUNT [2000]  TALLY_CRASH_RATE [200]  (or ARGS=\"--count N --rate R\")"
	@echo "  services             TALLY_ADMIN_TOKEN_SECRET [development key]  TALLY_GATEWAY_SOURCE_RATE [500; make bench 1000000]"
	@echo "                       TALLY_HTTP_HOST [127.0.0.1]  TALLY_LOG_LEVEL [info]  TALLY_OUTBOX_RETENTION_HOURS [168]"
	@echo "                       TALLY_SECRETS_KEY  TALLY_GATEWAY_MAX_BODY_BYTES  TALLY_FRESHNESS_SLOW_SECONDS"
	@echo "                       TALLY_FRESHNESS_STALE_SECONDS  TALLY_STRIPE_API_BASE_URL [https://api.stripe.com]"
	@echo "                       TALLY_STRIPE_SECRET_KEY [unset: finance records refunds offline]  TALLY_REFUND_TIMEOUT_SECONDS [15]"
	@echo "                       TALLY_INVOICE_LINK_BASE_URL [http://127.0.0.1:<port>]  TALLY_INVOICE_LINK_SECRET [derived]"
	@echo "                       TALLY_FINANCE_JOB_INTERVAL_SECONDS [300]"
	@echo "                       (passed on from your environment by make up and make test; see docs/architecture.md)"
	@echo "  set by the harness   TALLY_TEST_DATABASE_URL  TALLY_TEST_KAFKA_BROKERS  TALLY_TEST_TANSU (Swift integration suites);"
	@echo "                       TALLY_E2E_GATEWAY_URL  TALLY_E2E_KAFKA_BROKERS  TALLY_E2E_TALLY_BIN  TALLY_KAFKA_BROKERS"
	@echo "                       TALLY_DATABASE_ADMIN_URL  TALLY_CRASH_PROFILE (ops/e2e, ops/crash, ops/bench, tally doctor);"
	@echo "                       TALLY_BENCH_SECRET (ops/bench for tally bench); TALLY_OPENAPI_WEBHOOK_SOURCE"
	@echo "                       TALLY_OPENAPI_WEBHOOK_SECRET (openapi_acceptance.py for its hooks); for each service TALLY_ENV=local"
	@echo "                       TALLY_HTTP_PORT  TALLY_KAFKA_BROKERS  TALLY_DATABASE_URL  TALLY_DATABASE_ADMIN_URL"

bootstrap: ; @$(STACK) bootstrap
build: ; @$(STACK) build
up: ; @$(STACK) up
down: ; @$(STACK) down
status: ; @$(STACK) status
logs: ; @$(STACK) logs $(NAME)
check: ; @$(STACK) check
test: ; @$(STACK) test $(if $(ONLY),--only $(ONLY))
crash: ; @$(STACK) crash $(ARGS)
bench: ; @$(STACK) bench $(ARGS)
clean: ; @$(STACK) clean
format: ; swift format format --in-place --recursive Package.swift Libraries Services Tests
