-- Preconditions: pg_prove runs every *.sql here in name order; this one checks that
-- the test database has what the other files assume (pgTAP, the schema, the seed).
begin;
select plan(4);
select has_extension('pgtap');
select has_function('auth', 'uid', 'the bootstrap created auth.uid()');
select has_function('public', 'checkout', array['uuid', 'uuid', 'bigint', 'text', 'jsonb'],
  'the migrations created checkout(user, cart, revision, key, lines)');
select cmp_ok((select count(*) from public.menu_items), '>', 0::bigint, 'the seed loaded the menu');
select * from finish();
rollback;
