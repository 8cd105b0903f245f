-- Row-level security, acting as each API role the way PostgREST does:
-- SET LOCAL ROLE plus the JWT claims in request.jwt.claims (what auth.uid() reads).
begin;
select plan(24);

-- user A = aaaa…, user B = bbbb…; A has a saved cart and an order, made as the service role.
select set_config('request.jwt.claims', '{"role":"service_role"}', true);
insert into public.carts (user_id, cart_id) values
  ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'a0000000-0000-4000-8000-00000000000a');
insert into public.cart_lines (user_id, position, item_id, size, quantity, notes) values
  ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 0, 'coke', 'large', 2, 'no ice');
insert into public.orders (id, user_id, cart_id, total_cents) values
  ('a1000000-0000-4000-8000-00000000000a', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
   'a2000000-0000-4000-8000-00000000000a', 999);
insert into public.order_lines (order_id, position, user_id, item_id, name, restaurant_id,
                                restaurant_name, size, quantity, unit_price_cents) values
  ('a1000000-0000-4000-8000-00000000000a', 0, 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
   'classic_cheeseburger', 'Classic Cheeseburger', 'burger_barn', 'Burger Barn', null, 1, 999);

-- every table has row-level security switched on
select is(
  (select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace
   where n.nspname = 'public' and c.relkind = 'r' and not c.relrowsecurity),
  0::bigint, 'row-level security is enabled on every public table');

-- ---- anon: the menu, nothing else ----
set local role anon;
select set_config('request.jwt.claims', '{"role":"anon"}', true);
select cmp_ok((select count(*) from public.menu_items), '>', 0::bigint, 'anon reads the menu');
select cmp_ok((select count(*) from public.menu_item_sizes), '>', 0::bigint, 'anon reads the sizes');
select throws_ok('select * from public.carts', '42501', null, 'anon cannot read carts');
select throws_ok('select * from public.orders', '42501', null, 'anon cannot read orders');
select throws_ok('select * from public.profiles', '42501', null, 'anon cannot read profiles');
select throws_ok(
  $$select public.load_cart('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa')$$, '42501', null,
  'anon cannot call load_cart');
select throws_ok(
  $$update public.menu_items set price_cents = 1 where id = 'coke'$$, '42501', null,
  'anon cannot change the menu');
reset role;

-- ---- user B: sees nothing of A's, can change nothing of A's ----
set local role authenticated;
select set_config('request.jwt.claims',
  '{"sub":"bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb","role":"authenticated"}', true);
select is(auth.uid(), 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb'::uuid, 'auth.uid() is the JWT sub');
select is_empty($$select * from public.carts where user_id = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa'$$,
  'B cannot see A''s cart');
select is_empty($$select * from public.cart_lines$$, 'B sees no cart lines (A''s are hidden)');
select is_empty($$select * from public.orders$$, 'B cannot see A''s orders');
select is_empty($$select * from public.order_lines$$, 'B cannot see A''s order lines');
select throws_ok(
  $$insert into public.carts (user_id, cart_id)
    values ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', gen_random_uuid())
    on conflict (user_id) do update set cart_id = excluded.cart_id$$,
  '42501', null, 'B cannot overwrite A''s cart');
select throws_ok(
  $$insert into public.cart_lines (user_id, position, item_id, quantity)
    values ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 1, 'fries', 1)$$,
  '42501', null, 'B cannot add a line to A''s cart');
select is_empty($$update public.cart_lines set quantity = 20 returning *$$,
  'B''s update reaches none of A''s lines');
select is_empty($$delete from public.carts returning *$$, 'B''s delete reaches none of A''s carts');
select throws_ok(
  $$select public.save_cart('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', gen_random_uuid(), 0, '[]')$$,
  '42501', null, 'B cannot save_cart for A');
select throws_ok(
  $$select public.load_cart('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa')$$,
  '42501', null, 'B cannot load_cart for A');
select throws_ok(
  $$insert into public.orders (user_id, cart_id, total_cents)
    values ('bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', gen_random_uuid(), 1)$$,
  '42501', null, 'a user cannot create an order except through checkout()');
select lives_ok(
  $$select public.save_cart('bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', gen_random_uuid(), 0,
    '[{"item_id":"fries","size":"small","quantity":1,"notes":""}]')$$,
  'B saves B''s own cart');
reset role;

-- ---- back as the superuser: A's data is untouched ----
select is((select quantity from public.cart_lines
           where user_id = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa' and position = 0),
          2, 'A''s cart line is unchanged');

-- ---- user A sees exactly A's ----
set local role authenticated;
select set_config('request.jwt.claims',
  '{"sub":"aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa","role":"authenticated"}', true);
select results_eq($$select user_id from public.carts$$,
  $$values ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa'::uuid)$$, 'A sees only A''s cart');
reset role;

-- ---- service_role bypasses row-level security ----
set local role service_role;
select set_config('request.jwt.claims', '{"role":"service_role"}', true);
select cmp_ok((select count(*) from public.carts), '>=', 2::bigint, 'service_role sees every cart');
reset role;

select * from finish();
rollback;
