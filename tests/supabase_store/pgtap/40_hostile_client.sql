-- Issue #26: the attacks a hostile signed-in user tried through SQL, each one now refused.
-- User A = 1aaaaaaa…, user B = 1bbbbbbb…, both `authenticated`, acting as PostgREST does.
begin;
select plan(51);

-- Scratch space the superuser owns: where code an attacker plants records who ran it, and
-- where answers are kept (the API roles cannot create temporary tables).
create schema scratch;
grant usage on schema scratch to public;
create table scratch.ran (who text not null);
create table scratch.answer (what text primary key, a jsonb);
grant select, insert on scratch.ran, scratch.answer to public;

-- ---- 1. The temp-type hijack of the definer: no code of the caller's runs as the owner ----

select is_empty(
  $$select r.rolname from pg_roles r
    where r.rolname in ('anon', 'authenticated', 'service_role', 'authenticator')
      and has_database_privilege(r.rolname, current_database(), 'TEMPORARY')$$,
  'no API role may create temporary objects');

set local role authenticated;
select set_config('request.jwt.claims',
  '{"sub":"1aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa","role":"authenticated"}', true);
select throws_ok($$create temp table mine (a int)$$, '42501', null,
  'authenticated cannot create a temporary table');
select throws_ok($$create domain pg_temp.text as pg_catalog.text$$, '42501', null,
  'nor a temporary type to shadow text');
select throws_ok($$create function public.order_json(p text) returns jsonb language sql as 'select null'$$,
  '42501', null, 'nor a function in public to shadow one the definer calls');
select throws_ok($$create function concierge_private.lines_of(p text) returns int language sql as 'select 1'$$,
  '42501', null, 'nor one in concierge_private');
reset role;

-- Suppose a deployment granted TEMPORARY again: the pinned search_path alone must hold.
-- A, as `authenticated`, plants types that shadow what the functions use, each of whose
-- CHECK runs A's function, which records who ran it; then calls every function.
do $$ begin
  execute format('grant temporary on database %I to authenticated', current_database());
end $$;
set local role authenticated;
select set_config('request.jwt.claims',
  '{"sub":"1aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa","role":"authenticated"}', true);
create function pg_temp.planted() returns boolean language plpgsql as $f$
begin
  insert into scratch.ran values (current_user);
  return true;
end $f$;
create domain pg_temp.text as pg_catalog.text check (pg_temp.planted());
create domain pg_temp.jsonb as pg_catalog.jsonb check (pg_temp.planted());
create domain pg_temp.uuid as pg_catalog.uuid check (pg_temp.planted());
create domain pg_temp.timestamptz as pg_catalog.timestamptz check (pg_temp.planted());
create domain pg_temp.record as pg_catalog.int4 check (pg_temp.planted());
insert into scratch.answer select 'save', public.save_cart('1aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
  '1a000000-0000-4000-8000-00000000000a'::pg_catalog.uuid, 0,
  '[{"item_id":"coke","size":"large","quantity":2,"notes":"no ice"}]'::pg_catalog.jsonb);
insert into scratch.answer select 'load',
  public.load_cart('1aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa'::pg_catalog.uuid);
insert into scratch.answer select 'checkout', public.checkout(
  '1aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa'::pg_catalog.uuid,
  '1a000000-0000-4000-8000-00000000000a'::pg_catalog.uuid, 1, 'hijack'::pg_catalog.text,
  '[{"item_id":"coke","size":"large","quantity":2,"notes":"no ice"}]'::pg_catalog.jsonb);
insert into scratch.answer select 'find', public.find_order(
  '1aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa'::pg_catalog.uuid, 'hijack'::pg_catalog.text);
drop domain pg_temp.text, pg_temp.jsonb, pg_temp.uuid, pg_temp.timestamptz, pg_temp.record;
drop function pg_temp.planted();
reset role;
select is((select a ->> 'status' from scratch.answer where what = 'checkout'), 'placed',
  'with the types planted, checkout still places the order');
select is((select a ->> 'checkout_key' from scratch.answer where what = 'find'), 'hijack',
  'and find_order finds it');
select is_empty($$select who from scratch.ran where who <> 'authenticated'$$,
  'no planted code ran with the owner''s rights');
select is_empty($$select who from scratch.ran$$,
  'the planted code did not run at all inside the functions');
select is_empty(
  $$select p.oid::regprocedure from pg_proc p join pg_namespace n on n.oid = p.pronamespace
    where n.nspname in ('public', 'concierge_private') and p.prokind = 'f'
      and not exists (select from pg_depend d where d.objid = p.oid and d.deptype = 'e')
      and not coalesce('search_path=pg_catalog, pg_temp' = any(p.proconfig), false)$$,
  'every function of the schema pins search_path = pg_catalog, pg_temp');
select is_empty(
  $$select p.oid::regprocedure from pg_proc p join pg_namespace n on n.oid = p.pronamespace
    where n.nspname in ('public', 'concierge_private') and p.prosrc ~ 'auth\.(uid|role|jwt)'
      and not exists (select from pg_depend d where d.objid = p.oid and d.deptype = 'e')$$,
  'no function calls auth.uid() / auth.role() / auth.jwt(), which pin no search_path');
select results_eq(
  $$select p.oid::regprocedure::text from pg_proc p join pg_namespace n on n.oid = p.pronamespace
    where n.nspname in ('public', 'concierge_private') and p.prosecdef
      and not exists (select from pg_depend d where d.objid = p.oid and d.deptype = 'e')$$,
  $$values ('checkout(uuid,uuid,bigint,text,jsonb)')$$,
  'checkout is the only security definer function');
do $$ begin
  execute format('revoke temporary on database %I from authenticated', current_database());
end $$;

-- ---- 2. Checkout orders the cart as saved ----

set local role authenticated;
select set_config('request.jwt.claims',
  '{"sub":"1aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa","role":"authenticated"}', true);
select public.save_cart('1aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', '1a000000-0000-4000-8000-0000000000a2', 0,
  '[{"item_id":"coke","size":"small","quantity":1,"notes":""}]');
select is(public.checkout('1aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', '1a000000-0000-4000-8000-0000000000a2', 1,
    'pizzas', '[{"item_id":"pepperoni_pizza","size":"large","quantity":20,"notes":""}]') ->> 'status',
  'conflict', 'a request with other lines than the saved cart orders nothing: a conflict');
select is(public.checkout('1aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', '1a000000-0000-4000-8000-0000000000a2', 1,
    'more', '[{"item_id":"coke","size":"small","quantity":1,"notes":""},
              {"item_id":"fries","size":"small","quantity":1,"notes":""}]') ->> 'status',
  'conflict', 'nor one that adds a line to it');
select is(public.find_order('1aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'pizzas'), null,
  'no order was placed under the refused keys');
select is((public.load_cart('1aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa') -> 'lines' -> 0 ->> 'item_id'), 'coke',
  'and the saved cart is kept');
select is(public.checkout('1aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', '1a000000-0000-4000-8000-0000000000a2', 1,
    'same', '[{"item_id":"coke","size":"small","quantity":1,"notes":""}]') -> 'order' #>> '{lines,0,quantity}',
  '1', 'the request holding the saved cart''s lines orders them');
select is(public.checkout('1aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', '1a000000-0000-4000-8000-0000000000a2', 1,
    'same', '[{"item_id":"coke","size":"small","quantity":1,"notes":""}]') -> 'order' ->> 'checkout_key',
  'same', 'and a retry with the key returns that order');

-- ---- 3. A retired item of the saved cart is reported, even when the request leaves it out ----

select public.save_cart('1aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', '1a000000-0000-4000-8000-0000000000a3', 0,
  '[{"item_id":"churros","size":null,"quantity":1,"notes":""},
    {"item_id":"edamame","size":null,"quantity":1,"notes":""}]');
reset role;
update public.menu_items set retired_at = now() where id = 'churros';
set local role authenticated;
select is(public.checkout('1aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', '1a000000-0000-4000-8000-0000000000a3', 1,
    'no-churros', '[{"item_id":"edamame","size":null,"quantity":1,"notes":""}]'),
  '{"status": "unavailable", "items": ["churros"]}'::jsonb,
  'the saved cart''s retired item is reported though the request left it out');
reset role;
update public.menu_items set retired_at = null where id = 'churros';
set local role authenticated;

-- ---- 4-6. Bounded requests: lines per request, quantity per item across lines ----

select throws_ok(
  $$select public.checkout('1aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', gen_random_uuid(), 0, 'big',
      (select jsonb_agg(jsonb_build_object('item_id', 'coke', 'size', 'small', 'quantity', 1))
       from generate_series(1, 4000)))$$,
  '54000', 'A cart can hold at most 50 lines (4000 given); please combine or remove some.',
  'checkout of 4,000 lines is refused by the line cap');
select throws_ok(
  $$select public.save_cart('1aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', gen_random_uuid(), 0,
      (select jsonb_agg(jsonb_build_object('item_id', 'coke', 'size', 'small', 'quantity', 1,
                                           'notes', repeat('x', 150)))
       from generate_series(1, 60000)))$$,
  '54000', 'A cart can hold at most 50 lines (60000 given); please combine or remove some.',
  'save_cart of 60,000 lines (a 9 MB request) is refused');
select throws_ok(
  $$select public.checkout('1aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', gen_random_uuid(), 0, 'five',
      (select jsonb_agg(jsonb_build_object('item_id', 'coke', 'size', 'large', 'quantity', 20))
       from generate_series(1, 5)))$$,
  '23514', 'At most 20 of one item per order: the cart has 100 of coke.',
  'five lines of 20 of one item are refused at checkout');
select throws_ok(
  $$select public.save_cart('1aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', gen_random_uuid(), 0,
      '[{"item_id":"coke","size":"large","quantity":15},{"item_id":"coke","size":"small","quantity":6}]')$$,
  '23514', 'At most 20 of one item per order: the cart has 21 of coke.',
  'and across sizes when saved');
select throws_ok(
  $$insert into public.cart_lines (user_id, position, item_id, size, quantity)
    values ('1aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 10, 'coke', 'large', 20),
           ('1aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 11, 'coke', 'small', 20)$$,
  '23514', null, 'a direct write to cart_lines holds the per-item cap too');
select throws_ok(
  $$insert into public.cart_lines (user_id, position, item_id, size, quantity)
    values ('1aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 50, 'fries', 'small', 1)$$,
  '23514', null, 'and the line cap (position 50 is the 51st line)');
select lives_ok(
  $$select public.save_cart('1aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', '1a000000-0000-4000-8000-0000000000a3', 1,
      (select jsonb_agg(jsonb_build_object('item_id', i.id, 'size', (select min(s.size) from public.menu_item_sizes s where s.item_id = i.id),
                                           'quantity', 1, 'notes', g::text))
       from public.menu_items i cross join generate_series(1, 2) g
       where i.id in (select id from public.menu_items order by id limit 25)))$$,
  'a cart of exactly 50 lines saves');
select is((public.checkout('1aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', '1a000000-0000-4000-8000-0000000000a3', 2,
    'fifty', public.load_cart('1aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa') -> 'lines')
    -> 'order' -> 'lines') ->> 49 is not null, true, 'and checks out with all 50 lines');
select throws_ok(
  $$select public.save_cart('1aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', gen_random_uuid(), 0,
      '[{"item_id":"coke","size":"large","quantity":2.5}]')$$,
  '23514', 'Quantity of coke must be a whole number from 1 to 20.', 'a fractional quantity is refused');
select throws_ok(
  $$select public.save_cart('1aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', gen_random_uuid(), 0, '[7]')$$,
  '22023', null, 'a line that is not an object is refused');

-- ---- 7. lock_cart and every helper check the actor ----

select throws_ok($$select public.lock_cart('1bbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb')$$, '42501', null,
  'A cannot hold B''s cart lock');
select throws_ok(
  $$select public.cart_is_current('1bbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', gen_random_uuid(), 0)$$,
  '42501', null, 'A cannot ask whether B''s cart is current');
select throws_ok($$select public.assert_acting_for('1bbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb')$$, '42501', null,
  'assert_acting_for refuses A acting for B');

-- ---- 8. Cart ids are unique per user: no oracle, no squatting ----

select set_config('request.jwt.claims',
  '{"sub":"1bbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb","role":"authenticated"}', true);
select public.save_cart('1bbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', '1b000000-0000-4000-8000-00000000000b', 0,
  '[{"item_id":"fries","size":"small","quantity":1,"notes":""}]');
select set_config('request.jwt.claims',
  '{"sub":"1aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa","role":"authenticated"}', true);
-- (A checked its cart out above: A has nothing saved now.)
select is(public.save_cart('1aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', '1b000000-0000-4000-8000-00000000000b', 0,
    '[{"item_id":"fries","size":"small","quantity":2,"notes":""}]') ->> 'status',
  'saved', 'A saving under B''s cart id learns nothing: it is A''s own cart');
select is(public.checkout('1aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', '1b000000-0000-4000-8000-00000000000b', 1,
    'squat', '[{"item_id":"fries","size":"small","quantity":2,"notes":""}]') ->> 'status',
  'placed', 'and A may even order it');
select set_config('request.jwt.claims',
  '{"sub":"1bbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb","role":"authenticated"}', true);
select is(public.checkout('1bbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', '1b000000-0000-4000-8000-00000000000b', 1,
    'mine', '[{"item_id":"fries","size":"small","quantity":1,"notes":""}]') ->> 'status',
  'placed', 'B still checks out B''s cart of that id');
select is((select count(*) from public.orders), 1::bigint, 'B sees only B''s order');
insert into scratch.answer select 'b-order', to_jsonb(o.id) from public.orders o;
select set_config('request.jwt.claims',
  '{"sub":"1aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa","role":"authenticated"}', true);
select is(public.order_json((select (a #>> '{}')::uuid from scratch.answer where what = 'b-order')),
  null, 'order_json of B''s order tells A nothing (row-level security)');
select is(public.checkout('1aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', '1b000000-0000-4000-8000-00000000000b', 0,
    'again', '[{"item_id":"fries","size":"small","quantity":3,"notes":""}]') ->> 'status',
  'conflict', 'a cart id A already ordered is not ordered again under a new key');

-- ---- 9. No uniqueness answer tells A which handles exist ----

reset role;
insert into public.profiles (id, handle, name) values
  ('1aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'user_a', 'A'),
  ('1bbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', 'user_b', 'B');
set local role authenticated;
select throws_ok($$update public.profiles set handle = 'user_b' where id = '1aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa'$$,
  '42501', null, 'A cannot set a handle (taken or not): no unique-violation answer');
select throws_ok($$update public.profiles set handle = 'free_handle_zz' where id = '1aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa'$$,
  '42501', null, 'and the answer is the same for a free handle');
select throws_ok($$insert into public.profiles (id, handle, name) values ('1aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'user_b', 'A')$$,
  '42501', null, 'nor insert a profile holding a handle');
select is_empty($$update public.profiles set name = 'A again' where id = '1bbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb' returning id$$,
  'A cannot rename B');
select isnt_empty($$update public.profiles set name = 'A again', address = '1 Main St'
                    where id = '1aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa' returning id$$,
  'A still edits A''s own name and address');
select is_empty($$select handle from public.profiles where handle = 'user_b'$$,
  'A cannot read B''s handle either');

-- ---- 10. Notes: ordinary text, at most 200 characters ----

select throws_ok(
  $$select public.save_cart('1aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', gen_random_uuid(), 0,
      '[{"item_id":"coke","size":"large","quantity":1,"notes":"ring \u0007 the bell"}]')$$,
  '23514', 'Notes can only hold ordinary text (no control characters).',
  'save_cart refuses control characters in notes');
select throws_ok(
  $$select public.checkout('1aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', gen_random_uuid(), 0, 'ctl',
      '[{"item_id":"coke","size":"large","quantity":1,"notes":"line\nbreak"}]')$$,
  '23514', 'Notes can only hold ordinary text (no control characters).',
  'checkout refuses them too');
select throws_ok(
  $$select public.save_cart('1aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', gen_random_uuid(), 0,
      jsonb_build_array(jsonb_build_object('item_id', 'coke', 'size', 'large', 'quantity', 1,
                                           'notes', repeat('é', 201))))$$,
  '23514', 'Notes can be at most 200 characters (201 given); please shorten the request.',
  'notes over 200 characters are refused');
select throws_ok(
  $$insert into public.cart_lines (user_id, position, item_id, size, quantity, notes)
    values ('1aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 7, 'coke', 'large', 1, E'tab\there')$$,
  '23514', null, 'a direct write to cart_lines refuses control characters');
select lives_ok(
  $$select public.save_cart('1aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', gen_random_uuid(), 0,
      '[{"item_id":"coke","size":"large","quantity":1,"notes":"crème brûlée, 🌶️ mild; it''s for O''Brien"}]')$$,
  'ordinary text, accents and emoji included, is kept');
reset role;

-- ---- Nothing a refused request sent was stored ----
select is((select count(*) from public.cart_lines where user_id = '1aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa'),
  1::bigint, 'A''s saved cart holds the one line last saved');
select is_empty($$select * from public.cart_lines where notes ~ '[\u0001-\u001f\u007f-\u009f]'$$,
  'no stored note holds a control character');

select * from finish();
rollback;
