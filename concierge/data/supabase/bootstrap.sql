-- Local stand-in for what a Supabase database already contains before any migration runs.
--
-- Apply this ONLY to a plain PostgreSQL (the throwaway cluster the tests and notebook 07 start).
-- Never run it against a Supabase project: there these objects exist already, owned by
-- Supabase, and the migrations in ./migrations rely on exactly them.
--
-- It follows the upstream definitions (read, not copied), checked against:
--   * supabase/postgres  migrations/db/init-scripts/00000000000000-initial-schema.sql
--       roles anon / authenticated / service_role (BYPASSRLS) / authenticator (NOINHERIT),
--       usage on schema public and the default privileges that grant the API roles everything
--       on new tables, sequences and functions in public (so row-level security, not GRANT,
--       is the real barrier);
--   * supabase/postgres  migrations/db/init-scripts/00000000000001-auth-schema.sql and
--     supabase/auth      migrations/20220224000811_update_auth_functions.up.sql
--       the auth schema, a minimal auth.users, and auth.uid() / auth.role() / auth.jwt(),
--       which read the JWT claims PostgREST puts in the `request.jwt.claims` setting
--       (falling back to the older per-claim `request.jwt.claim.sub` / `.role` settings).
--
-- Everything here is idempotent, so applying it twice is harmless. Plain SQL that PostgreSQL
-- 13 and later accept (Debian has 15, hosted Supabase runs 17).

do $$
begin
  if not exists (select from pg_roles where rolname = 'anon') then
    create role anon nologin noinherit;
  end if;
  if not exists (select from pg_roles where rolname = 'authenticated') then
    create role authenticated nologin noinherit;
  end if;
  if not exists (select from pg_roles where rolname = 'service_role') then
    create role service_role nologin noinherit bypassrls;
  end if;
  if not exists (select from pg_roles where rolname = 'authenticator') then
    -- The role the API server logs in as; it may only *become* one of the three above.
    create role authenticator login noinherit;
  end if;
end
$$;

grant anon, authenticated, service_role to authenticator;

grant usage on schema public to anon, authenticated, service_role;
alter default privileges in schema public grant all on tables to anon, authenticated, service_role;
alter default privileges in schema public grant all on functions to anon, authenticated, service_role;
alter default privileges in schema public grant all on sequences to anon, authenticated, service_role;

create schema if not exists auth;
grant usage on schema auth to anon, authenticated, service_role;

-- Supabase's auth.users has many more columns (managed by GoTrue); the schema here only ever
-- refers to the id, so the stand-in keeps just what a test needs to create a user.
create table if not exists auth.users (
  id uuid primary key,
  email text unique,
  role text not null default 'authenticated',
  created_at timestamptz not null default now()
);

create or replace function auth.uid() returns uuid
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.sub', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
  )::uuid
$$;

create or replace function auth.role() returns text
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.role', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
  )::text
$$;

create or replace function auth.jwt() returns jsonb
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim', true), ''),
    nullif(current_setting('request.jwt.claims', true), '')
  )::jsonb
$$;

grant execute on function auth.uid(), auth.role(), auth.jwt() to anon, authenticated, service_role;
