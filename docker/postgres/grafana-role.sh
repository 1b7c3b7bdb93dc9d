#!/usr/bin/env bash
# One-shot job of the compose stack (service `grafana-role`), run after the migrations. The migrations create
# the read-only group role `shoplens_readonly` (NOLOGIN, SELECT only) and commit no password; this creates
# Grafana's login role from .env, a member of that group, read-only by default, with .env's password.
# psql's :"name" and :'value' quote the identifier and the literal, so nothing from .env is spliced into SQL.
set -euo pipefail
: "${GRAFANA_DB_USER:?}" "${GRAFANA_DB_PASSWORD:?}"
psql -X -q -v ON_ERROR_STOP=1 -v role="$GRAFANA_DB_USER" -v password="$GRAFANA_DB_PASSWORD" <<'SQL'
SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') AS role_missing \gset
\if :role_missing
CREATE ROLE :"role";
\endif
ALTER ROLE :"role" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD :'password';
ALTER ROLE :"role" SET default_transaction_read_only = on;
GRANT shoplens_readonly TO :"role";
SQL
echo "grafana-role: $GRAFANA_DB_USER can log in, read-only (member of shoplens_readonly)"
