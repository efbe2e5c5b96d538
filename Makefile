# Habit Tracker API. `make dev` serves the API locally; `make test` runs every test and check.
.PHONY: setup dev fire test faults openapi clients build-release deploy-check bench bench-dispatch bench-scale

FUNCTIONS := auth users habits categories reminders dispatcher challenges deliver

setup: ## install DynamoDB Local (npm ci) and the Python tools (.venv)
	bash -c 'source scripts/lib.sh && setup'

dev: ## DynamoDB Local + table + first admin + cargo lambda watch on http://localhost:9000
	scripts/dev.sh

fire: ## fire due reminders now: the dispatcher's schedule, played once against `make dev` (PORT, default 9000)
	bash -c 'source scripts/lib.sh && python3 scripts/triggers.py fire --api http://127.0.0.1:$(or $(PORT),9000)'

test: ## fmt, clippy, cfn-lint, all tests against DynamoDB Local, end-to-end over HTTP
	scripts/test.sh

faults: ## the fault harness with its figures: user stories and the dispatcher through lost, slow and throttled DynamoDB answers
	cargo test -q -p habit-tests --test api faults:: -- --nocapture --test-threads 1

openapi: ## regenerate docs/openapi.json (from the handlers) and the Postman collection (from it)
	cargo run -q -p habit-tests --bin openapi && python3 scripts/postman.py

clients: ## generate the Python and TypeScript clients from docs/openapi.json, type-check them strictly, package them in target/clients/dist
	bash -c 'source scripts/lib.sh && setup && python3 scripts/clients.py build'

build-release: ## release bootstrap binaries for Lambda (arm64), zipped as Lambda takes them; prints their sizes
	bash -c 'source scripts/lib.sh && setup && cargo lambda build --release --arm64 --output-format zip $(addprefix --bin ,$(FUNCTIONS))'
	@python3 -c 'import os, sys, zipfile; [print(f"{f:<11} bootstrap {zipfile.ZipFile(p).infolist()[0].file_size:>10,} bytes   zip {os.path.getsize(p):>10,} bytes") for f in sys.argv[1:] for p in [f"target/lambda/{f}/bootstrap.zip"]]' $(FUNCTIONS)

deploy-check: build-release ## deploy rehearsal without AWS: sam validate --lint, the SAM transform, the stack created on moto from the arm64 zips, read back and checked
	mkdir -p target/deploy-check/artifacts
	for f in $(FUNCTIONS); do cp target/lambda/$$f/bootstrap.zip target/deploy-check/artifacts/$$f.zip; done
	bash -c 'source scripts/lib.sh && python3 scripts/deploy_check.py --template infra/template.yaml --artifacts target/deploy-check/artifacts'

bench-dispatch: ## load N (default 10000) due reminders into DynamoDB Local and time one dispatcher pass
	N=$(or $(N),10000) CONCURRENCY=$(or $(CONCURRENCY),64) scripts/bench-dispatch.sh

bench-scale: ## a million reminders due in one minute: the dispatcher simulated against DynamoDB's partition limits, then 100,000 for real on DynamoDB Local in eight runs
	scripts/bench-scale.sh

bench: ## cold start, warm requests, binary sizes and dispatch; writes docs/BENCHMARKS.md
	scripts/bench.sh
