-- Concierge Lab: carts that two sessions can share without losing each other's changes, checkout
-- keyed on the cart's contents, and menu items that can be retired.
--
-- What goes wrong without it (issue #10): a save replaced the whole cart, so of two sessions of
-- one user the last writer won; checkout was idempotent per cart_id alone, so a cart that changed
-- after an order was placed got the *older* order back and its new lines were dropped; and an item
-- removed from the menu stayed orderable forever. Now:
--
--   * carts.revision: save_cart() is a compare-and-set on (cart_id, revision). A write based on
--     an older saved cart is not applied; the caller gets {"status": "conflict", "cart": ...}
--     (the cart as saved now), merges and tries again;
--   * orders.checkout_key: the client's key covers the cart id, revision and contents. A retried
--     checkout of the same contents returns the same order; changed contents never do. Checkout
--     only turns the cart *as saved* (or a never-saved one) into an order;
--   * cart_writes: the keys of recent saves (a hash of cart id, revision and contents, as for
--     checkout). A client whose answer to a save was lost sends the same save again: a conflict
--     answer then says whether that save had been applied ("applied": true), so the client merges
--     on the right base and never applies its change twice;
--   * menu_items.retired_at: the seed retires items it no longer lists. Retired items cannot be
--     checked out ({"status": "unavailable", "items": [...]}); old orders keep them.
--
-- Every writer of one user's cart takes the same transaction-scoped advisory lock, so a save and
-- a checkout of one cart queue instead of racing.

alter table public.carts add column revision bigint not null default 0 check (revision >= 0);
alter table public.orders add column checkout_key text check (length(checkout_key) <= 128);
create unique index orders_user_id_checkout_key_idx on public.orders (user_id, checkout_key);
alter table public.menu_items add column retired_at timestamptz;

create table public.cart_writes (
  user_id uuid not null,
  write_key text not null check (length(write_key) <= 128),
  written_at timestamptz not null default now(),
  primary key (user_id, write_key)
);
revoke all on public.cart_writes from anon, authenticated;
grant select, insert, delete on public.cart_writes to authenticated;
grant all on public.cart_writes to service_role;
alter table public.cart_writes enable row level security;
create policy "cart_writes: own rows" on public.cart_writes
  for all to authenticated
  using ((select auth.uid()) = user_id) with check ((select auth.uid()) = user_id);

drop function public.save_cart(uuid, uuid, jsonb);
drop function public.checkout(uuid, uuid, jsonb);

-- One lock per user's cart, shared by save_cart and checkout.
create function public.lock_cart(p_user_id uuid) returns void
language sql volatile
set search_path = ''
as $$
  select pg_advisory_xact_lock(hashtextextended('concierge cart ' || p_user_id::text, 0));
$$;

-- Is the caller's cart (p_cart_id at p_revision) the one saved now? A never-saved cart
-- (revision 0) is, when nothing is saved and its id was never checked out.
create function public.cart_is_current(p_user_id uuid, p_cart_id uuid, p_revision bigint)
returns boolean
language sql stable
set search_path = ''
as $$
  select case
    when exists (select from public.carts c where c.user_id = p_user_id)
      then exists (select from public.carts c where c.user_id = p_user_id
                   and c.cart_id = p_cart_id and c.revision = p_revision)
    else p_revision = 0 and not exists (select from public.orders o where o.cart_id = p_cart_id)
  end;
$$;

-- The saved cart with its revision, names and current prices from the menu; null when none.
create or replace function public.load_cart(p_user_id uuid) returns jsonb
language plpgsql stable
set search_path = ''
as $$
begin
  perform public.assert_acting_for(p_user_id);
  return (
    select jsonb_build_object(
      'user_id', c.user_id,
      'cart_id', c.cart_id,
      'revision', c.revision,
      'lines', coalesce((
        select jsonb_agg(jsonb_build_object(
            'item_id', l.item_id, 'name', i.name,
            'restaurant_id', r.id, 'restaurant_name', r.name,
            'size', l.size, 'quantity', l.quantity,
            'unit_price_cents', coalesce(s.price_cents, i.price_cents),
            'notes', l.notes
          ) order by l.position)
        from public.cart_lines l
        join public.menu_items i on i.id = l.item_id
        join public.restaurants r on r.id = i.restaurant_id
        left join public.menu_item_sizes s on s.item_id = l.item_id and s.size = l.size
        where l.user_id = c.user_id
      ), '[]'::jsonb)
    )
    from public.carts c
    where c.user_id = p_user_id
  );
end;
$$;

-- Replace the saved cart if the caller's cart is the one saved now (compare-and-set).
-- Returns {"status": "saved", "revision": n} or {"status": "conflict", "cart": load_cart(),
-- "applied": whether a save with p_key was applied recently}.
-- p_lines: [{"item_id": ..., "size": ... | null, "quantity": 1..20, "notes": ...}, ...]
create function public.save_cart(p_user_id uuid, p_cart_id uuid, p_revision bigint, p_lines jsonb,
                                 p_key text default null)
returns jsonb
language plpgsql volatile
set search_path = ''
as $$
declare
  v_revision bigint;
begin
  perform public.assert_acting_for(p_user_id);
  if jsonb_typeof(p_lines) is distinct from 'array' then
    raise exception 'p_lines must be a JSON array of cart lines.' using errcode = '22023';
  end if;
  perform public.lock_cart(p_user_id);
  if not public.cart_is_current(p_user_id, p_cart_id, p_revision) then
    return jsonb_build_object('status', 'conflict', 'cart', public.load_cart(p_user_id),
      'applied', exists (select from public.cart_writes w
                         where w.user_id = p_user_id and w.write_key = p_key));
  end if;
  v_revision := p_revision + 1;
  if p_key is not null then
    insert into public.cart_writes (user_id, write_key) values (p_user_id, p_key)
      on conflict do nothing;
    delete from public.cart_writes
      where user_id = p_user_id and written_at < now() - interval '1 day';
  end if;
  insert into public.carts (user_id, cart_id, revision, updated_at)
  values (p_user_id, p_cart_id, v_revision, now())
  on conflict (user_id) do update
    set cart_id = excluded.cart_id, revision = excluded.revision, updated_at = excluded.updated_at;
  delete from public.cart_lines where user_id = p_user_id;
  insert into public.cart_lines (user_id, position, item_id, size, quantity, notes)
  select p_user_id, (e.ordinality - 1)::integer, e.value ->> 'item_id', e.value ->> 'size',
         (e.value ->> 'quantity')::integer, coalesce(e.value ->> 'notes', '')
  from jsonb_array_elements(p_lines) with ordinality as e;
  return jsonb_build_object('status', 'saved', 'revision', v_revision);
end;
$$;

-- An order as the store reads it (row-level security applies to the caller).
create function public.order_json(p_order_id uuid) returns jsonb
language sql stable
set search_path = ''
as $$
  select jsonb_build_object(
    'order_id', o.id, 'user_id', o.user_id, 'cart_id', o.cart_id,
    'checkout_key', o.checkout_key, 'total_cents', o.total_cents, 'created_at', o.created_at,
    'lines', (
      select jsonb_agg(jsonb_build_object(
          'item_id', ol.item_id, 'name', ol.name, 'restaurant_id', ol.restaurant_id,
          'restaurant_name', ol.restaurant_name, 'size', ol.size, 'quantity', ol.quantity,
          'unit_price_cents', ol.unit_price_cents, 'notes', ol.notes
        ) order by ol.position)
      from public.order_lines ol where ol.order_id = o.id))
  from public.orders o where o.id = p_order_id;
$$;

-- The order placed under p_key, or null: how a client settles a checkout whose answer was lost.
create function public.find_order(p_user_id uuid, p_key text) returns jsonb
language plpgsql stable
set search_path = ''
as $$
begin
  perform public.assert_acting_for(p_user_id);
  return (select public.order_json(o.id) from public.orders o
          where o.user_id = p_user_id and o.checkout_key = p_key);
end;
$$;

-- Turn the saved cart into an order, atomically and idempotently per p_key. Prices come from the
-- menu, never from the caller. Returns {"status": "placed", "order": ...},
-- {"status": "conflict", "cart": ...} (the saved cart changed: nothing ordered) or
-- {"status": "unavailable", "items": [...]} (retired items: nothing ordered).
-- Security definer, because users cannot insert orders directly.
create function public.checkout(p_user_id uuid, p_cart_id uuid, p_revision bigint, p_key text,
                                p_lines jsonb) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_order_id uuid;
  v_total integer := 0;
  v_lines jsonb := '[]'::jsonb;
  v_retired text[] := '{}';
  v_line record;
  v_item record;
  v_size text;
  v_price integer;
  v_quantity integer;
begin
  perform public.assert_acting_for(p_user_id);
  if p_key is null or length(p_key) not between 1 and 128 then
    raise exception 'p_key must be the cart''s checkout key.' using errcode = '22023';
  end if;
  perform public.lock_cart(p_user_id);

  select o.id into v_order_id from public.orders o
    where o.user_id = p_user_id and o.checkout_key = p_key;
  if v_order_id is not null then  -- a retry of a checkout that went through
    return jsonb_build_object('status', 'placed', 'order', public.order_json(v_order_id));
  end if;

  if jsonb_typeof(p_lines) is distinct from 'array' or jsonb_array_length(p_lines) = 0 then
    raise exception 'The cart is empty: add something before checking out.'
      using errcode = '22023';
  end if;
  if not public.cart_is_current(p_user_id, p_cart_id, p_revision) then
    return jsonb_build_object('status', 'conflict', 'cart', public.load_cart(p_user_id));
  end if;

  for v_line in
    select e.value as j, (e.ordinality - 1)::integer as pos
    from jsonb_array_elements(p_lines) with ordinality as e
  loop
    select i.id, i.name, i.price_cents, i.retired_at, r.id as restaurant_id,
           r.name as restaurant_name
      into v_item
      from public.menu_items i join public.restaurants r on r.id = i.restaurant_id
      where i.id = v_line.j ->> 'item_id';
    if not found then
      raise exception 'There is no menu item with id %.', v_line.j ->> 'item_id'
        using errcode = '22023';
    end if;
    if v_item.retired_at is not null then
      v_retired := v_retired || v_item.id;
      continue;
    end if;
    v_size := v_line.j ->> 'size';
    if exists (select from public.menu_item_sizes s where s.item_id = v_item.id) then
      select s.price_cents into v_price
        from public.menu_item_sizes s where s.item_id = v_item.id and s.size = v_size;
      if not found then
        raise exception '% does not come in size %.', v_item.name, coalesce(v_size, '(none)')
          using errcode = '22023';
      end if;
    elsif v_size is not null then
      raise exception '% comes in one size only.', v_item.name using errcode = '22023';
    else
      v_price := v_item.price_cents;
    end if;
    v_quantity := (v_line.j ->> 'quantity')::integer;
    if v_quantity is null or v_quantity not between 1 and 20 then
      raise exception 'Quantity of % must be 1 to 20.', v_item.name using errcode = '23514';
    end if;
    v_total := v_total + v_price * v_quantity;
    v_lines := v_lines || jsonb_build_array(jsonb_build_object(
      'position', v_line.pos, 'item_id', v_item.id, 'name', v_item.name,
      'restaurant_id', v_item.restaurant_id, 'restaurant_name', v_item.restaurant_name,
      'size', v_size, 'quantity', v_quantity, 'unit_price_cents', v_price,
      'notes', coalesce(v_line.j ->> 'notes', '')));
  end loop;
  if cardinality(v_retired) > 0 then
    return jsonb_build_object('status', 'unavailable', 'items', to_jsonb(v_retired));
  end if;

  v_order_id := gen_random_uuid();
  insert into public.orders (id, user_id, cart_id, checkout_key, total_cents)
  values (v_order_id, p_user_id, p_cart_id, p_key, v_total);
  insert into public.order_lines (order_id, position, user_id, item_id, name, restaurant_id,
                                  restaurant_name, size, quantity, unit_price_cents, notes)
  select v_order_id, (l ->> 'position')::integer, p_user_id, l ->> 'item_id', l ->> 'name',
         l ->> 'restaurant_id', l ->> 'restaurant_name', l ->> 'size',
         (l ->> 'quantity')::integer, (l ->> 'unit_price_cents')::integer, l ->> 'notes'
  from jsonb_array_elements(v_lines) as l;
  delete from public.carts where user_id = p_user_id;
  return jsonb_build_object('status', 'placed', 'order', public.order_json(v_order_id));
end;
$$;

-- Retire every menu item not in p_keep (a JSON array of ids); un-retire those in it.
-- Service role only: the seed command calls it after upserting the menu.
create function public.retire_menu_items(p_keep jsonb) returns integer
language plpgsql volatile
set search_path = ''
as $$
declare
  v_count integer;
begin
  if jsonb_typeof(p_keep) is distinct from 'array' then
    raise exception 'p_keep must be a JSON array of item ids.' using errcode = '22023';
  end if;
  update public.menu_items set retired_at = null
    where retired_at is not null and id in (select jsonb_array_elements_text(p_keep));
  update public.menu_items set retired_at = now()
    where retired_at is null and id not in (select jsonb_array_elements_text(p_keep));
  get diagnostics v_count = row_count;
  return v_count;
end;
$$;

revoke execute on function public.lock_cart(uuid) from public, anon;
revoke execute on function public.cart_is_current(uuid, uuid, bigint) from public, anon;
revoke execute on function public.save_cart(uuid, uuid, bigint, jsonb, text) from public, anon;
revoke execute on function public.order_json(uuid) from public, anon;
revoke execute on function public.find_order(uuid, text) from public, anon;
revoke execute on function public.checkout(uuid, uuid, bigint, text, jsonb) from public, anon;
revoke execute on function public.retire_menu_items(jsonb) from public, anon, authenticated;
grant execute on function public.lock_cart(uuid) to authenticated, service_role;
grant execute on function public.cart_is_current(uuid, uuid, bigint) to authenticated, service_role;
grant execute on function public.save_cart(uuid, uuid, bigint, jsonb, text) to authenticated, service_role;
grant execute on function public.order_json(uuid) to authenticated, service_role;
grant execute on function public.find_order(uuid, text) to authenticated, service_role;
grant execute on function public.checkout(uuid, uuid, bigint, text, jsonb) to authenticated, service_role;
grant execute on function public.retire_menu_items(jsonb) to service_role;
