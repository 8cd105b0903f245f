-- checkout(): atomic, idempotent per checkout key, priced from the menu, only for the caller.
begin;
select plan(18);

-- The API roles cannot create temporary tables: the superuser makes the one this file keeps
-- the first answer in, and lets the user write it.
create temp table first_call (o jsonb);
grant select, insert on first_call to authenticated;

set local role authenticated;
select set_config('request.jwt.claims',
  '{"sub":"cccccccc-cccc-4ccc-8ccc-cccccccccccc","role":"authenticated"}', true);

select public.save_cart('cccccccc-cccc-4ccc-8ccc-cccccccccccc', 'c0000000-0000-4000-8000-00000000000c', 0,
  '[{"item_id":"coke","size":"large","quantity":2,"notes":"no ice"},
    {"item_id":"classic_cheeseburger","size":null,"quantity":1,"notes":""}]');

-- The caller's prices are ignored: the menu's are used (coke large 299, cheeseburger 999).
insert into first_call
  select public.checkout('cccccccc-cccc-4ccc-8ccc-cccccccccccc', 'c0000000-0000-4000-8000-00000000000c', 1,
    'key-1', '[{"item_id":"coke","size":"large","quantity":2,"notes":"no ice","unit_price_cents":1},
      {"item_id":"classic_cheeseburger","size":null,"quantity":1,"notes":""}]') as o;
select is((select o ->> 'status' from first_call), 'placed', 'the order is placed');
select is((select (o -> 'order' ->> 'total_cents')::int from first_call), 2 * 299 + 999,
  'the total comes from menu prices, not the caller''s');
select is((select jsonb_array_length(o -> 'order' -> 'lines') from first_call), 2, 'the order has both lines');
select is((select o -> 'order' -> 'lines' -> 0 ->> 'notes' from first_call), 'no ice', 'notes are kept');
select is_empty($$select * from public.carts$$, 'the saved cart is emptied');

-- A retried call with the same key (say the first answer was lost) returns the same order.
select is(
  (select public.checkout('cccccccc-cccc-4ccc-8ccc-cccccccccccc', 'c0000000-0000-4000-8000-00000000000c', 1,
     'key-1', '[{"item_id":"fries","size":"large","quantity":5,"notes":""}]') -> 'order' ->> 'order_id'),
  (select o -> 'order' ->> 'order_id' from first_call), 'a retry with the same key returns the same order');
select is((select count(*) from public.orders), 1::bigint, 'still one order after the retry');

-- The same cart with other contents (a new key) never gets the older order back: the cart it
-- claims to be based on is gone, so nothing is ordered and the caller learns the saved cart.
select is(
  (select public.checkout('cccccccc-cccc-4ccc-8ccc-cccccccccccc', 'c0000000-0000-4000-8000-00000000000c', 1,
     'key-2', '[{"item_id":"fries","size":"large","quantity":5,"notes":""}]') ->> 'status'),
  'conflict', 'changed contents of a checked-out cart are a conflict, not the old order');
select is((select count(*) from public.order_lines), 2::bigint, 'and still two order lines');

-- Atomic: a bad line anywhere means no order at all, and the saved cart stays.
select public.save_cart('cccccccc-cccc-4ccc-8ccc-cccccccccccc', 'c0000000-0000-4000-8000-0000000000c2', 0,
  '[{"item_id":"fries","size":"small","quantity":1,"notes":""}]');
select throws_ok(
  $$select public.checkout('cccccccc-cccc-4ccc-8ccc-cccccccccccc', 'c0000000-0000-4000-8000-0000000000c2', 1,
    'key-3', '[{"item_id":"fries","size":"small","quantity":1},{"item_id":"unicorn_steak","quantity":1}]')$$,
  '22023', 'There is no menu item with id unicorn_steak.', 'an unknown item is refused');
select throws_ok(
  $$select public.checkout('cccccccc-cccc-4ccc-8ccc-cccccccccccc', 'c0000000-0000-4000-8000-0000000000c2', 1,
    'key-4', '[{"item_id":"chocolate_shake","size":"small","quantity":1}]')$$,
  '22023', 'Chocolate Shake does not come in size small.', 'a size the item lacks is refused');
select throws_ok(
  $$select public.checkout('cccccccc-cccc-4ccc-8ccc-cccccccccccc', 'c0000000-0000-4000-8000-0000000000c2', 1,
    'key-5', '[{"item_id":"fries","size":"small","quantity":21}]')$$,
  '23514', null, 'more than 20 of an item is refused');
select throws_ok(
  $$select public.checkout('cccccccc-cccc-4ccc-8ccc-cccccccccccc', 'c0000000-0000-4000-8000-0000000000c2', 1,
    'key-6', '[]')$$,
  '22023', 'The cart is empty: add something before checking out.', 'an empty cart is refused');
select is((select count(*) from public.orders), 1::bigint, 'the refused checkouts created no order');
select isnt_empty($$select * from public.cart_lines$$, 'and the saved cart is still there');

-- A stale revision (another session saved since) orders nothing.
select is(
  (select public.checkout('cccccccc-cccc-4ccc-8ccc-cccccccccccc', 'c0000000-0000-4000-8000-0000000000c2', 0,
     'key-7', '[{"item_id":"fries","size":"small","quantity":1}]') -> 'cart' ->> 'revision'),
  '1', 'a checkout based on an older revision is a conflict carrying the saved cart');

-- Only for the caller.
select set_config('request.jwt.claims',
  '{"sub":"dddddddd-dddd-4ddd-8ddd-dddddddddddd","role":"authenticated"}', true);
select throws_ok(
  $$select public.checkout('cccccccc-cccc-4ccc-8ccc-cccccccccccc', gen_random_uuid(), 0, 'k',
    '[{"item_id":"fries","size":"small","quantity":1}]')$$,
  '42501', null, 'a user cannot check out for another user');
reset role;
set local role anon;
select set_config('request.jwt.claims', '{"role":"anon"}', true);
select throws_ok(
  $$select public.checkout('cccccccc-cccc-4ccc-8ccc-cccccccccccc', gen_random_uuid(), 0, 'k', '[]')$$,
  '42501', null, 'anon cannot call checkout at all');
reset role;

select * from finish();
rollback;
