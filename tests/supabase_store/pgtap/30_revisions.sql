-- save_cart() is a compare-and-set on (cart_id, revision); retired items cannot be checked out;
-- find_order() settles a lost checkout answer by its key.
begin;
select plan(12);

create temp table stale (r jsonb);  -- made by the superuser: the API roles cannot
grant select, insert on stale to authenticated;

set local role authenticated;
select set_config('request.jwt.claims',
  '{"sub":"eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee","role":"authenticated"}', true);

select is(public.save_cart('eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee', 'e0000000-0000-4000-8000-00000000000e', 0,
  '[{"item_id":"fries","size":"small","quantity":1,"notes":""}]'),
  '{"status": "saved", "revision": 1}'::jsonb, 'a first save creates revision 1');
select is(public.save_cart('eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee', 'e0000000-0000-4000-8000-00000000000e', 1,
  '[{"item_id":"fries","size":"small","quantity":2,"notes":""}]') ->> 'revision',
  '2', 'a save based on the saved revision moves it on');

-- Session two still holds revision 1: its write is not applied (no lost update).
insert into stale select public.save_cart('eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee',
  'e0000000-0000-4000-8000-00000000000e', 1,
  '[{"item_id":"edamame","size":null,"quantity":1,"notes":""}]') as r;
select is((select r ->> 'status' from stale), 'conflict', 'a save based on an older revision is refused');
select is((select r -> 'cart' ->> 'revision' from stale), '2', 'and the answer carries the saved revision');
select is((select r -> 'cart' -> 'lines' -> 0 ->> 'quantity' from stale), '2', 'and the saved lines');
select is((select quantity from public.cart_lines where user_id = 'eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee'),
  2, 'the saved cart is the first writer''s');

-- A never-saved cart (revision 0) cannot overwrite a saved one either.
select is(public.save_cart('eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee', gen_random_uuid(), 0, '[]') ->> 'status',
  'conflict', 'a new cart does not overwrite a saved cart');

-- Retired items: not orderable, nothing ordered, the saved cart kept.
reset role;
update public.menu_items set retired_at = now() where id = 'fries';
set local role authenticated;
select is(public.checkout('eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee', 'e0000000-0000-4000-8000-00000000000e', 2,
  'key-r', '[{"item_id":"fries","size":"small","quantity":2,"notes":""}]'),
  '{"status": "unavailable", "items": ["fries"]}'::jsonb, 'a retired item is refused by name');
select is((select count(*) from public.orders where user_id = 'eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee'),
  0::bigint, 'and nothing was ordered');
reset role;
update public.menu_items set retired_at = null where id = 'fries';
set local role authenticated;

-- find_order: null before, the order after.
select is(public.find_order('eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee', 'key-f'), null, 'no order under a new key');
select public.checkout('eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee', 'e0000000-0000-4000-8000-00000000000e', 2,
  'key-f', '[{"item_id":"fries","size":"small","quantity":2,"notes":""}]');
select is(public.find_order('eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee', 'key-f') ->> 'checkout_key', 'key-f',
  'find_order finds the order by its key');

select set_config('request.jwt.claims',
  '{"sub":"ffffffff-ffff-4fff-8fff-ffffffffffff","role":"authenticated"}', true);
select throws_ok(
  $$select public.find_order('eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee', 'key-f')$$,
  '42501', null, 'another user cannot look the order up');
reset role;

select * from finish();
rollback;
