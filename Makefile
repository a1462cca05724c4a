# Tally developer entry points: ops/stack.sh bootstraps, ops/tallystack/ does the rest.
STACK := bash ops/stack.sh

.DEFAULT_GOAL := help
.PHONY: help bootstrap build up down status logs check test crash bench clean

help: ## list the targets
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
	@echo "  make crash       crash test against the running stack (ARGS=\"--count 20000\" for the long form)"
	@echo "  make bench       release build, local stack, pgbench reference and load phases (ARGS passed on)"
	@echo "  make clean       make down and remove .run/"

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
