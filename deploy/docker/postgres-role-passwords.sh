#!/bin/sh
# Runs once, when the postgres container initialises its volume, after service_roles.sql
# (10-service-roles.sql) created a role per service: gives each role its password from the
# container's environment. psql quotes them (:'name'), so any character is safe.
psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v inference="$STACKMESH_INFERENCE_DB_PASSWORD" \
    -v safety="$STACKMESH_SAFETY_DB_PASSWORD" \
    -v vector_io="$STACKMESH_VECTOR_IO_DB_PASSWORD" \
    -v agents="$STACKMESH_AGENTS_DB_PASSWORD" \
    -v eval="$STACKMESH_EVAL_DB_PASSWORD" \
    -v post_training="$STACKMESH_POST_TRAINING_DB_PASSWORD" \
    -v auth="$STACKMESH_AUTH_DB_PASSWORD" <<'SQL'
ALTER ROLE stackmesh_inference PASSWORD :'inference';
ALTER ROLE stackmesh_safety PASSWORD :'safety';
ALTER ROLE stackmesh_vector_io PASSWORD :'vector_io';
ALTER ROLE stackmesh_agents PASSWORD :'agents';
ALTER ROLE stackmesh_eval PASSWORD :'eval';
ALTER ROLE stackmesh_post_training PASSWORD :'post_training';
ALTER ROLE stackmesh_auth PASSWORD :'auth';
SQL
