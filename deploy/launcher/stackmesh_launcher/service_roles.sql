-- Least privilege for stackmesh services: each service logs in as its own role,
-- stackmesh_<service>, which owns the schema named after the service and may use nothing
-- else but pgvector's types and functions in `public`.
--
-- Run it as an admin (a superuser, or a managed Postgres's admin role: CREATEROLE, owner of
-- the database, allowed to create the vector extension) in the stackmesh database, then give
-- each role a password; the services' URLs are postgresql://stackmesh_<service>@HOST/stackmesh:
--
--   psql "postgresql://ADMIN@HOST/stackmesh" -v ON_ERROR_STOP=1 -f service_roles.sql
--   psql "postgresql://ADMIN@HOST/stackmesh" -c '\password stackmesh_inference'  # and so on
--
-- The services are the setting stackmesh.services (comma separated), by default the four of
-- the distributions; for others: PGOPTIONS='-c stackmesh.services=inference,eval' psql ...
--
-- Idempotent, and upgrades in place a database whose schemas another role created (stacks
-- from before the service roles): the schema and its tables go to the service's role. The
-- local launcher runs it at every start of its embedded PostgreSQL; the compose postgres
-- container when it initialises its volume.

CREATE EXTENSION IF NOT EXISTS vector;

-- Only the roles granted below may use `public`, and none may create anything in it.
REVOKE ALL ON SCHEMA public FROM PUBLIC;

DO $roles$
DECLARE
    service text;
    role_name text;
    owner oid;
    object regclass;
BEGIN
    EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database());
    FOREACH service IN ARRAY string_to_array(
        coalesce(current_setting('stackmesh.services', true), 'inference,safety,vector_io,agents,eval,post_training,auth'), ','
    ) LOOP
        role_name := 'stackmesh_' || service;
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = role_name) THEN
            EXECUTE format('CREATE ROLE %I LOGIN', role_name);
        END IF;
        -- Takes back any attribute an existing role was given; only when needed, since a
        -- non-superuser admin may not even restate some (SUPERUSER, REPLICATION, BYPASSRLS).
        IF (SELECT rolsuper OR rolcreatedb OR rolcreaterole OR rolreplication OR rolbypassrls OR NOT rolcanlogin
            FROM pg_roles WHERE rolname = role_name) THEN
            EXECUTE format('ALTER ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS', role_name);
        END IF;
        IF NOT pg_has_role(role_name, 'USAGE') THEN
            -- A non-superuser admin may hand a schema only to a role it is a member of.
            EXECUTE format('GRANT %I TO %I', role_name, current_user);
        END IF;
        -- TEMPORARY: pgvector's bulk loads stage rows in temporary tables.
        EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO %I', current_database(), role_name);
        EXECUTE format('GRANT USAGE ON SCHEMA public TO %I', role_name);
        IF EXISTS (SELECT FROM pg_namespace WHERE nspname = service) THEN
            EXECUTE format('ALTER SCHEMA %I OWNER TO %I', service, role_name);
        ELSE
            EXECUTE format('CREATE SCHEMA %I AUTHORIZATION %I', service, role_name);
        END IF;
        owner := (SELECT oid FROM pg_roles WHERE rolname = role_name);
        -- stackmesh creates tables only; their indexes and identity and serial sequences
        -- change owner with them, other sequences after.
        FOR object IN
            SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = service AND c.relkind IN ('r', 'p') AND c.relowner <> owner
        LOOP
            EXECUTE format('ALTER TABLE %s OWNER TO %I', object, role_name);
        END LOOP;
        FOR object IN
            SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = service AND c.relkind = 'S' AND c.relowner <> owner
        LOOP
            EXECUTE format('ALTER SEQUENCE %s OWNER TO %I', object, role_name);
        END LOOP;
    END LOOP;
END
$roles$;
