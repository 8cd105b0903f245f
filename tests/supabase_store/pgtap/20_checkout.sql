-- checkout(): atomic, idempotent per cart_id, priced from the menu, only for the caller.
begin;
select plan(16);

set local role authenticated;
select set_config('request.jwt.claims',
  '{"sub":"cccccccc-cccc-4ccc-8ccc-cccccccccccc","role":"authenticated"}', true);

select public.save_cart('cccccccc-cccc-4ccc-8ccc-cccccccccccc', 'c0000000-0000-4000-8000-00000000000c',
  '[{"item_id":"coke","size":"large","quantity":2,"notes":"no ice"},
    {"item_id":"classic_cheeseburger","size":null,"quantity":1,"notes":""}]');

-- The caller's prices are ignored: the menu's are used (coke large 299, cheeseburger 999).
create temp table first_call as
  select public.checkout('cccccccc-cccc-4ccc-8ccc-cccccccccccc', 'c0000000-0000-4000-8000-00000000000c',
    '[{"item_id":"coke","size":"large","quantity":2,"notes":"no ice","unit_price_cents":1},
      {"item_id":"classic_cheeseburger","size":null,"quantity":1,"notes":""}]') as o;
select is((select (o ->> 'total_cents')::int from first_call), 2 * 299 + 999,
  'the total comes from menu prices, not the caller''s');
select is((select jsonb_array_length(o -> 'lines') from first_call), 2, 'the order has both lines');
select is((select o -> 'lines' -> 0 ->> 'notes' from first_call), 'no ice', 'notes are kept');
select is_empty($$select * from public.carts$$, 'the saved cart is emptied');
select is((select count(*) from public.orders), 1::bigint, 'one order exists');

-- A retried call (say the first answer was lost) returns the same order and creates nothing.
select is(
  (select public.checkout('cccccccc-cccc-4ccc-8ccc-cccccccccccc', 'c0000000-0000-4000-8000-00000000000c',
     '[{"item_id":"fries","size":"large","quantity":5,"notes":""}]') ->> 'order_id'),
  (select o ->> 'order_id' from first_call), 'a retry returns the same order');
select is((select count(*) from public.orders), 1::bigint, 'still one order after the retry');
select is((select count(*) from public.order_lines), 2::bigint, 'and still two order lines');

-- Atomic: a bad line anywhere means no order at all, and the saved cart stays.
select public.save_cart('cccccccc-cccc-4ccc-8ccc-cccccccccccc', 'c0000000-0000-4000-8000-0000000000c2',
  '[{"item_id":"fries","size":"small","quantity":1,"notes":""}]');
select throws_ok(
  $$select public.checkout('cccccccc-cccc-4ccc-8ccc-cccccccccccc', 'c0000000-0000-4000-8000-0000000000c2',
    '[{"item_id":"fries","size":"small","quantity":1},{"item_id":"unicorn_steak","quantity":1}]')$$,
  '22023', 'There is no menu item with id unicorn_steak.', 'an unknown item is refused');
select throws_ok(
  $$select public.checkout('cccccccc-cccc-4ccc-8ccc-cccccccccccc', 'c0000000-0000-4000-8000-0000000000c2',
    '[{"item_id":"chocolate_shake","size":"small","quantity":1}]')$$,
  '22023', 'Chocolate Shake does not come in size small.', 'a size the item lacks is refused');
select throws_ok(
  $$select public.checkout('cccccccc-cccc-4ccc-8ccc-cccccccccccc', 'c0000000-0000-4000-8000-0000000000c2',
    '[{"item_id":"fries","size":"small","quantity":21}]')$$,
  '23514', null, 'more than 20 of an item is refused');
select throws_ok(
  $$select public.checkout('cccccccc-cccc-4ccc-8ccc-cccccccccccc', 'c0000000-0000-4000-8000-0000000000c2', '[]')$$,
  '22023', 'The cart is empty: add something before checking out.', 'an empty cart is refused');
select is((select count(*) from public.orders), 1::bigint, 'the refused checkouts created no order');
select isnt_empty($$select * from public.cart_lines$$, 'and the saved cart is still there');

-- Only for the caller.
select set_config('request.jwt.claims',
  '{"sub":"dddddddd-dddd-4ddd-8ddd-dddddddddddd","role":"authenticated"}', true);
select throws_ok(
  $$select public.checkout('cccccccc-cccc-4ccc-8ccc-cccccccccccc', gen_random_uuid(),
    '[{"item_id":"fries","size":"small","quantity":1}]')$$,
  '42501', null, 'a user cannot check out for another user');
reset role;
set local role anon;
select set_config('request.jwt.claims', '{"role":"anon"}', true);
select throws_ok(
  $$select public.checkout('cccccccc-cccc-4ccc-8ccc-cccccccccccc', gen_random_uuid(), '[]')$$,
  '42501', null, 'anon cannot call checkout at all');
reset role;

select * from finish();
rollback;
