#!/bin/sh
# Run once by the postgres image on an empty data dir (/docker-entrypoint-initdb.d):
# one database per service, each owned by the application user.
set -eu
for database in $ADOPTE_DATABASES; do
  echo "creating database $database"
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -c "CREATE DATABASE \"$database\" OWNER \"$POSTGRES_USER\""
done
