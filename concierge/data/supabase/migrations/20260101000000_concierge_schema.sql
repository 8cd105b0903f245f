-- Concierge Lab: the menu, profiles, carts and orders, with row-level security.
--
-- Plain SQL that runs unchanged in a Supabase project's SQL editor, with `supabase db push` /
-- `supabase migration up`, or (after data/supabase/bootstrap.sql) on a plain PostgreSQL 13+.
-- Nothing here depends on one PostgreSQL major version (Debian has 15, hosted Supabase 17).
--
-- The rules the Python domain enforces (concierge/menu.py, concierge/cart.py) are enforced here
-- again, because a database reachable over HTTP cannot trust its clients:
--   prices are positive integer cents; sizes are small / medium / large and must be sizes the
--   item really has; a line holds 1..20 of an item; notes are at most 200 characters.
--
-- Who may do what (row-level security, `auth.uid()` is the caller's user id from the JWT):
--   * anyone, signed in or not, reads the menu; nobody but service_role writes it;
--   * a signed-in user reads and writes only their own profile and cart;
--   * a signed-in user reads only their own orders, and creates them only through
--     public.checkout(), which checks the caller and prices every line from the menu;
--   * service_role (the seed command, trusted servers) bypasses row-level security.

-- ---------------------------------------------------------------------------------------------
-- The menu
-- ---------------------------------------------------------------------------------------------

create table public.restaurants (
  id text primary key check (id ~ '^[a-z0-9_]+$'),
  name text not null check (name <> ''),
  cuisine text not null default '',
  aliases text[] not null default '{}',
  sort_order integer not null default 0
);

create table public.menu_items (
  id text primary key check (id ~ '^[a-z0-9_]+$'),
  restaurant_id text not null references public.restaurants (id),
  name text not null check (name <> ''),
  category text not null default '',
  -- One price, or null when the item is priced per size in menu_item_sizes.
  price_cents integer check (price_cents > 0),
  tags text[] not null default '{}'
    check (tags <@ array['vegetarian', 'vegan', 'gluten-free']::text[]),
  sort_order integer not null default 0
);

create index menu_items_restaurant_id_idx on public.menu_items (restaurant_id);

create table public.menu_item_sizes (
  item_id text not null references public.menu_items (id) on delete cascade,
  size text not null check (size in ('small', 'medium', 'large')),
  price_cents integer not null check (price_cents > 0),
  primary key (item_id, size)
);

-- ---------------------------------------------------------------------------------------------
-- People, carts and orders
-- ---------------------------------------------------------------------------------------------

-- `id` is the user's auth.uid(). There is deliberately no foreign key to auth.users, so the
-- demo profiles can be seeded into a project before anyone has signed up.
create table public.profiles (
  id uuid primary key,
  handle text unique check (handle ~ '^[a-z0-9_]{2,32}$'),
  name text not null check (name <> ''),
  dietary text[] not null default '{}'
    check (dietary <@ array['vegetarian', 'vegan', 'gluten-free']::text[]),
  address text not null default ''
);

-- One saved cart per user; `cart_id` names its contents for idempotent checkout.
create table public.carts (
  user_id uuid primary key,
  cart_id uuid not null unique,
  updated_at timestamptz not null default now()
);

create table public.cart_lines (
  user_id uuid not null references public.carts (user_id) on delete cascade,
  position integer not null check (position >= 0),
  item_id text not null references public.menu_items (id),
  size text check (size in ('small', 'medium', 'large')),
  quantity integer not null check (quantity between 1 and 20),
  notes text not null default '' check (length(notes) <= 200),
  primary key (user_id, position),
  -- A size must be one the item comes in (MATCH SIMPLE: not checked when size is null).
  foreign key (item_id, size) references public.menu_item_sizes (item_id, size)
);

create table public.orders (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null,
  cart_id uuid not null unique,
  total_cents integer not null check (total_cents > 0),
  created_at timestamptz not null default now()
);

create index orders_user_id_created_at_idx on public.orders (user_id, created_at desc);

-- Order lines copy names and prices: an order keeps what was bought even when the menu changes.
create table public.order_lines (
  order_id uuid not null references public.orders (id) on delete cascade,
  position integer not null check (position >= 0),
  user_id uuid not null, -- the order's user, so the row-level policy needs no join
  item_id text not null,
  name text not null,
  restaurant_id text not null,
  restaurant_name text not null,
  size text check (size in ('small', 'medium', 'large')),
  quantity integer not null check (quantity between 1 and 20),
  unit_price_cents integer not null check (unit_price_cents > 0),
  notes text not null default '' check (length(notes) <= 200),
  primary key (order_id, position)
);

create index order_lines_user_id_idx on public.order_lines (user_id);

-- ---------------------------------------------------------------------------------------------
-- Privileges and row-level security
-- ---------------------------------------------------------------------------------------------

-- Supabase grants the API roles everything on new tables by default; narrow that to what each
-- role may ever do, so a missing policy can never open a write path.
revoke all on public.restaurants, public.menu_items, public.menu_item_sizes from anon, authenticated;
grant select on public.restaurants, public.menu_items, public.menu_item_sizes to anon, authenticated;
revoke all on public.profiles, public.carts, public.cart_lines, public.orders, public.order_lines
  from anon, authenticated;
grant select, insert, update, delete on public.profiles, public.carts, public.cart_lines to authenticated;
grant select on public.orders, public.order_lines to authenticated;
grant all on all tables in schema public to service_role;

alter table public.restaurants enable row level security;
alter table public.menu_items enable row level security;
alter table public.menu_item_sizes enable row level security;
alter table public.profiles enable row level security;
alter table public.carts enable row level security;
alter table public.cart_lines enable row level security;
alter table public.orders enable row level security;
alter table public.order_lines enable row level security;

create policy "menu: anyone reads" on public.restaurants
  for select to anon, authenticated using (true);
create policy "menu: anyone reads" on public.menu_items
  for select to anon, authenticated using (true);
create policy "menu: anyone reads" on public.menu_item_sizes
  for select to anon, authenticated using (true);

-- `(select auth.uid())` rather than `auth.uid()`: evaluated once per statement, not per row.
create policy "profiles: own row" on public.profiles
  for all to authenticated
  using ((select auth.uid()) = id) with check ((select auth.uid()) = id);

create policy "carts: own cart" on public.carts
  for all to authenticated
  using ((select auth.uid()) = user_id) with check ((select auth.uid()) = user_id);
create policy "cart_lines: own cart" on public.cart_lines
  for all to authenticated
  using ((select auth.uid()) = user_id) with check ((select auth.uid()) = user_id);

create policy "orders: read own" on public.orders
  for select to authenticated using ((select auth.uid()) = user_id);
create policy "order_lines: read own" on public.order_lines
  for select to authenticated using ((select auth.uid()) = user_id);

-- ---------------------------------------------------------------------------------------------
-- Functions the store calls through /rest/v1/rpc
-- ---------------------------------------------------------------------------------------------

-- Only service_role may act for another user; everyone else acts as auth.uid().
create function public.assert_acting_for(p_user_id uuid) returns void
language plpgsql stable
set search_path = ''
as $$
begin
  if coalesce(auth.role(), '') <> 'service_role' and auth.uid() is distinct from p_user_id then
    raise exception 'A user can only use their own cart and orders.'
      using errcode = '42501', hint = 'Sign in as that user, or use the service role.';
  end if;
end;
$$;

-- The saved cart with names and current prices from the menu, or null when there is none.
-- Security invoker: row-level security applies as well as the explicit check.
create function public.load_cart(p_user_id uuid) returns jsonb
language plpgsql stable
set search_path = ''
as $$
begin
  perform public.assert_acting_for(p_user_id);
  return (
    select jsonb_build_object(
      'user_id', c.user_id,
      'cart_id', c.cart_id,
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

-- Replace the user's saved cart in one transaction; returns the cart id.
-- p_lines: [{"item_id": ..., "size": ... | null, "quantity": 1..20, "notes": ...}, ...]
create function public.save_cart(p_user_id uuid, p_cart_id uuid, p_lines jsonb) returns uuid
language plpgsql volatile
set search_path = ''
as $$
begin
  perform public.assert_acting_for(p_user_id);
  if jsonb_typeof(p_lines) is distinct from 'array' then
    raise exception 'p_lines must be a JSON array of cart lines.' using errcode = '22023';
  end if;
  insert into public.carts (user_id, cart_id, updated_at)
  values (p_user_id, p_cart_id, now())
  on conflict (user_id) do update set cart_id = excluded.cart_id, updated_at = excluded.updated_at;
  delete from public.cart_lines where user_id = p_user_id;
  insert into public.cart_lines (user_id, position, item_id, size, quantity, notes)
  select p_user_id, (e.ordinality - 1)::integer, e.value ->> 'item_id', e.value ->> 'size',
         (e.value ->> 'quantity')::integer, coalesce(e.value ->> 'notes', '')
  from jsonb_array_elements(p_lines) with ordinality as e;
  return p_cart_id;
end;
$$;

-- Turn a cart into an order, atomically and idempotently: one order per cart_id, and a retried
-- call (the answer to the first one was lost) returns that same order. Prices come from the
-- menu, never from the caller. Security definer, because users cannot insert orders directly.
create function public.checkout(p_user_id uuid, p_cart_id uuid, p_lines jsonb) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_order_id uuid;
  v_owner uuid;
  v_total integer := 0;
  v_lines jsonb := '[]'::jsonb;
  v_line record;
  v_item record;
  v_size text;
  v_price integer;
  v_quantity integer;
begin
  perform public.assert_acting_for(p_user_id);
  -- Two concurrent calls for the same cart queue here instead of racing.
  perform pg_advisory_xact_lock(hashtextextended(p_cart_id::text, 0));

  select o.id, o.user_id into v_order_id, v_owner from public.orders o where o.cart_id = p_cart_id;
  if v_order_id is not null and v_owner is distinct from p_user_id then
    raise exception 'That cart belongs to another user.' using errcode = '42501';
  end if;

  if v_order_id is null then
    if jsonb_typeof(p_lines) is distinct from 'array' or jsonb_array_length(p_lines) = 0 then
      raise exception 'The cart is empty: add something before checking out.'
        using errcode = '22023';
    end if;
    for v_line in
      select e.value as j, (e.ordinality - 1)::integer as pos
      from jsonb_array_elements(p_lines) with ordinality as e
    loop
      select i.id, i.name, i.price_cents, r.id as restaurant_id, r.name as restaurant_name
        into v_item
        from public.menu_items i join public.restaurants r on r.id = i.restaurant_id
        where i.id = v_line.j ->> 'item_id';
      if not found then
        raise exception 'There is no menu item with id %.', v_line.j ->> 'item_id'
          using errcode = '22023';
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

    v_order_id := gen_random_uuid();
    insert into public.orders (id, user_id, cart_id, total_cents)
    values (v_order_id, p_user_id, p_cart_id, v_total);
    insert into public.order_lines (order_id, position, user_id, item_id, name, restaurant_id,
                                    restaurant_name, size, quantity, unit_price_cents, notes)
    select v_order_id, (l ->> 'position')::integer, p_user_id, l ->> 'item_id', l ->> 'name',
           l ->> 'restaurant_id', l ->> 'restaurant_name', l ->> 'size',
           (l ->> 'quantity')::integer, (l ->> 'unit_price_cents')::integer, l ->> 'notes'
    from jsonb_array_elements(v_lines) as l;
    delete from public.carts where user_id = p_user_id;
  end if;

  return (
    select jsonb_build_object(
      'order_id', o.id, 'user_id', o.user_id, 'cart_id', o.cart_id,
      'total_cents', o.total_cents, 'created_at', o.created_at,
      'lines', (
        select jsonb_agg(jsonb_build_object(
            'item_id', ol.item_id, 'name', ol.name, 'restaurant_id', ol.restaurant_id,
            'restaurant_name', ol.restaurant_name, 'size', ol.size, 'quantity', ol.quantity,
            'unit_price_cents', ol.unit_price_cents, 'notes', ol.notes
          ) order by ol.position)
        from public.order_lines ol where ol.order_id = o.id))
    from public.orders o where o.id = v_order_id
  );
end;
$$;

-- Functions are executable by PUBLIC (and, on Supabase, by anon) by default: close that.
revoke execute on function public.assert_acting_for(uuid) from public, anon;
revoke execute on function public.load_cart(uuid) from public, anon;
revoke execute on function public.save_cart(uuid, uuid, jsonb) from public, anon;
revoke execute on function public.checkout(uuid, uuid, jsonb) from public, anon;
grant execute on function public.assert_acting_for(uuid) to authenticated, service_role;
grant execute on function public.load_cart(uuid) to authenticated, service_role;
grant execute on function public.save_cart(uuid, uuid, jsonb) to authenticated, service_role;
grant execute on function public.checkout(uuid, uuid, jsonb) to authenticated, service_role;
