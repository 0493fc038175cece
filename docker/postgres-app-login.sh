#!/bin/sh
# Run once by the timescaledb image when it initialises an empty volume (docker-entrypoint-initdb.d):
# the role the apps act as, lantern_app (no DDL rights; the migrations grant it what the apps need),
# and their login `lantern` in it. The migrations run as the owner (postgres), in the migrate service.
set -eu
: "${LANTERN_DB_PASSWORD:?set LANTERN_DB_PASSWORD in docker/.env (docker/.env.example)}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" --set=password="$LANTERN_DB_PASSWORD" <<'SQL'
CREATE ROLE lantern_app NOLOGIN;
CREATE ROLE lantern LOGIN PASSWORD :'password' IN ROLE lantern_app;
SQL
