.PHONY: run test services lint bench

## The two commands of the README.
run:  ## install, start services, migrate, seed demo data, run web+worker+beat+localstripe
	scripts/run.sh

test:  ## install, start services, lint, migrations check, the whole test suite
	scripts/test.sh $(ARGS)

## Helpers.
services:
	scripts/services.sh postgres redis

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

bench:
	scripts/bootstrap.sh && scripts/services.sh postgres redis && \
	DJANGO_SETTINGS_MODULE=config.settings.dev .venv/bin/python -m bench
