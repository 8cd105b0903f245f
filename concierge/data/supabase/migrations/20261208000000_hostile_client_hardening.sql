-- Concierge Lab: the schema holds against a hostile client (issue #26).
--
-- Migrations already applied stay as they are; this one changes what they made:
--
--   * No code of a caller's runs with the owner's rights. `checkout` is SECURITY DEFINER (users
--     cannot insert orders), and with `search_path = ''` PostgreSQL still resolved *types* from
--     the caller's temporary schema first: a domain `pg_temp.text` whose CHECK called the caller's
--     function ran that function as the owner. Now every function here pins
--     `search_path = pg_catalog, pg_temp` (temp explicitly last, so pg_catalog's types win),
--     names everything else schema-qualified, and calls only functions that pin it too (the JWT
--     is read by concierge_private.jwt_claim, not by auth.uid(), which pins nothing). The API
--     roles lose the TEMPORARY privilege, so they cannot create temporary objects at all.
--   * checkout orders the cart AS SAVED: a request whose lines differ from the saved cart's is a
--     conflict (nothing ordered), retired items of the saved cart are reported, idempotency by
--     key and revision is kept, and order lines are inserted by one set-based statement.
--   * Caps, the same as concierge/cart.py's: at most 50 lines per cart and per request (SQLSTATE
--     54000, which PostgREST answers with 413), at most 20 of one item across its lines, notes of
--     at most 200 characters without control characters (23514). Checked before anything is
--     written, in time linear in the request; table constraints and a trigger hold the same
--     limits for writes that do not go through the functions.
--   * lock_cart and cart_is_current check the actor, like every other function; cart ids are
--     unique per user, not across users (no oracle, no squatting another user's cart id); users
--     no longer set profiles.handle, so no uniqueness answer tells them which handles exist.
--
-- Plain SQL for PostgreSQL 13+ (Debian 15 in the tests, hosted Supabase 17).

-- ---------------------------------------------------------------------------------------------
-- No temporary objects for the API roles
-- ---------------------------------------------------------------------------------------------

do $$
declare
  v_role text;
begin
  execute format('revoke temporary on database %I from public', current_database());
  foreach v_role in array array['anon', 'authenticated', 'service_role', 'authenticator'] loop
    if exists (select from pg_catalog.pg_roles where rolname = v_role) then
      execute format('revoke temporary on database %I from %I', current_database(), v_role);
    end if;
  end loop;
end
$$;

-- ---------------------------------------------------------------------------------------------
-- Helpers the API does not expose (PostgREST serves `public` only)
-- ---------------------------------------------------------------------------------------------

create schema if not exists concierge_private;
revoke all on schema concierge_private from public;
grant usage on schema concierge_private to authenticated, service_role;

-- One claim of the caller's JWT, read the way auth.uid() / auth.role() read it (the per-claim
-- setting older PostgREST versions set, else the claims object), with a pinned search_path.
create function concierge_private.jwt_claim(p_claim text) returns text
language sql stable
set search_path = pg_catalog, pg_temp
as $$
  select coalesce(
    nullif(pg_catalog.current_setting('request.jwt.claim.' || p_claim, true), ''),
    nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::pg_catalog.jsonb
      ->> p_claim)
$$;

-- A normalized line list (jsonb array of {pos, item_id, size, quantity, notes}) as rows.
create function concierge_private.lines_of(p_lines jsonb)
returns table (pos integer, item_id text, size text, quantity integer, notes text)
language sql immutable
set search_path = pg_catalog, pg_temp
as $$
  select l.pos, l.item_id, l.size, l.quantity, l.notes
  from pg_catalog.jsonb_to_recordset(p_lines)
    as l(pos integer, item_id text, size text, quantity integer, notes text)
$$;

-- The lines of a save or checkout request, checked against the caps and normalized; raises a
-- one-sentence error for the first cap broken. Linear in the request; the line count is checked
-- first, so an oversized request costs one array length.
create function concierge_private.cart_request(p_lines jsonb) returns jsonb
language plpgsql immutable
set search_path = pg_catalog, pg_temp
as $$
declare
  v_count integer;
  v_bad record;
  v_lines jsonb;
begin
  if jsonb_typeof(p_lines) is distinct from 'array' then
    raise exception 'p_lines must be a JSON array of cart lines.' using errcode = '22023';
  end if;
  v_count := jsonb_array_length(p_lines);
  if v_count > 50 then
    raise exception 'A cart can hold at most 50 lines (% given); please combine or remove some.',
      v_count using errcode = '54000';
  end if;
  if exists (select from jsonb_array_elements(p_lines) as e(v)
             where jsonb_typeof(e.v) is distinct from 'object'
                or jsonb_typeof(e.v -> 'item_id') is distinct from 'string'
                or length(e.v ->> 'item_id') > 64
                or coalesce(jsonb_typeof(e.v -> 'size'), 'null') not in ('string', 'null')
                or coalesce(jsonb_typeof(e.v -> 'notes'), 'null') not in ('string', 'null')) then
    raise exception 'Each cart line must be an object with an item_id and text size and notes.'
      using errcode = '22023';
  end if;
  select e.v ->> 'item_id' as item_id into v_bad
    from jsonb_array_elements(p_lines) with ordinality as e(v, n)
    where not case when jsonb_typeof(e.v -> 'quantity') = 'number'
                   then (e.v ->> 'quantity')::numeric between 1 and 20
                        and (e.v ->> 'quantity')::numeric = trunc((e.v ->> 'quantity')::numeric)
                   else false end
    order by e.n limit 1;
  if found then
    raise exception 'Quantity of % must be a whole number from 1 to 20.', v_bad.item_id
      using errcode = '23514';
  end if;
  select coalesce(jsonb_agg(jsonb_build_object(
      'pos', (e.n - 1)::integer, 'item_id', e.v ->> 'item_id', 'size', e.v ->> 'size',
      'quantity', (e.v ->> 'quantity')::integer, 'notes', coalesce(e.v ->> 'notes', ''))
    order by e.n), '[]'::jsonb)
    into v_lines
    from jsonb_array_elements(p_lines) with ordinality as e(v, n);
  select l.notes into v_bad from concierge_private.lines_of(v_lines) as l
    where l.notes ~ '[\u0001-\u001f\u007f-\u009f]' or length(l.notes) > 200
    order by l.pos limit 1;
  if found and v_bad.notes ~ '[\u0001-\u001f\u007f-\u009f]' then
    raise exception 'Notes can only hold ordinary text (no control characters).'
      using errcode = '23514';
  elsif found then
    raise exception 'Notes can be at most 200 characters (% given); please shorten the request.',
      length(v_bad.notes) using errcode = '23514';
  end if;
  select l.item_id, sum(l.quantity) as total into v_bad
    from concierge_private.lines_of(v_lines) as l
    group by l.item_id having sum(l.quantity) > 20
    order by min(l.pos) limit 1;
  if found then
    raise exception 'At most 20 of one item per order: the cart has % of %.',
      v_bad.total, v_bad.item_id using errcode = '23514';
  end if;
  return v_lines;
end;
$$;

-- The saved cart's lines in the same normalized form, or null when nothing is saved.
create function concierge_private.saved_lines(p_user_id uuid) returns jsonb
language sql stable
set search_path = pg_catalog, pg_temp
as $$
  select case when exists (select from public.carts c where c.user_id = p_user_id) then
    coalesce((
      select jsonb_agg(jsonb_build_object(
          'pos', l.pos, 'item_id', l.item_id, 'size', l.size, 'quantity', l.quantity,
          'notes', l.notes) order by l.pos)
      from (select (row_number() over (order by cl.position) - 1)::integer as pos, cl.item_id,
                   cl.size, cl.quantity, cl.notes
            from public.cart_lines cl where cl.user_id = p_user_id) as l
    ), '[]'::jsonb)
  end
$$;

-- Writes that bypass save_cart (a client may write cart_lines under row-level security) hold
-- the per-item cap too. Row trigger, after the statement's rows are in: it sees them all.
create function concierge_private.check_cart_item_total() returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
  v_total bigint;
begin
  select sum(l.quantity) into v_total from public.cart_lines l
    where l.user_id = new.user_id and l.item_id = new.item_id;
  if v_total > 20 then
    raise exception 'At most 20 of one item per order: the cart has % of %.',
      v_total, new.item_id using errcode = '23514';
  end if;
  return null;
end;
$$;

revoke all on all functions in schema concierge_private from public, anon;
grant execute on function concierge_private.jwt_claim(text),
                          concierge_private.lines_of(jsonb),
                          concierge_private.cart_request(jsonb),
                          concierge_private.saved_lines(uuid)
  to authenticated, service_role;

-- ---------------------------------------------------------------------------------------------
-- Tables: caps, per-user cart ids, handles set by trusted writers only
-- ---------------------------------------------------------------------------------------------

-- NOT VALID: rows already stored are kept; every new or changed row is checked.
alter table public.cart_lines
  add constraint cart_lines_position_cap check (position < 50) not valid,
  add constraint cart_lines_notes_text check (notes !~ '[\u0001-\u001f\u007f-\u009f]') not valid;
alter table public.order_lines
  add constraint order_lines_notes_text check (notes !~ '[\u0001-\u001f\u007f-\u009f]') not valid;

create trigger cart_lines_item_total after insert or update on public.cart_lines
  for each row execute function concierge_private.check_cart_item_total();

alter table public.carts drop constraint if exists carts_cart_id_key;
alter table public.orders drop constraint if exists orders_cart_id_key;
create unique index orders_user_id_cart_id_idx on public.orders (user_id, cart_id);

revoke insert, update on public.profiles from authenticated;
grant insert (id, name, dietary, address), update (name, dietary, address)
  on public.profiles to authenticated;

-- ---------------------------------------------------------------------------------------------
-- Functions: pinned search_path, actor checks, checkout of the saved cart
-- ---------------------------------------------------------------------------------------------

-- Only service_role may act for another user; everyone else acts as the JWT's subject.
create or replace function public.assert_acting_for(p_user_id uuid) returns void
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
begin
  if coalesce(concierge_private.jwt_claim('role'), '') <> 'service_role'
     and concierge_private.jwt_claim('sub')::uuid is distinct from p_user_id then
    raise exception 'A user can only use their own cart and orders.'
      using errcode = '42501', hint = 'Sign in as that user, or use the service role.';
  end if;
end;
$$;

-- One lock per user's cart, shared by save_cart and checkout; only for the caller's own cart.
create or replace function public.lock_cart(p_user_id uuid) returns void
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
begin
  perform public.assert_acting_for(p_user_id);
  perform pg_advisory_xact_lock(hashtextextended('concierge cart ' || p_user_id::text, 0));
end;
$$;

-- Is the caller's cart (p_cart_id at p_revision) the one saved now? A never-saved cart
-- (revision 0) is, when nothing is saved and this user never checked that cart id out.
create or replace function public.cart_is_current(p_user_id uuid, p_cart_id uuid,
                                                  p_revision bigint)
returns boolean
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
begin
  perform public.assert_acting_for(p_user_id);
  if exists (select from public.carts c where c.user_id = p_user_id) then
    return exists (select from public.carts c where c.user_id = p_user_id
                   and c.cart_id = p_cart_id and c.revision = p_revision);
  end if;
  return p_revision = 0 and not exists (select from public.orders o
                                        where o.user_id = p_user_id and o.cart_id = p_cart_id);
end;
$$;

alter function public.load_cart(uuid) set search_path = pg_catalog, pg_temp;
alter function public.order_json(uuid) set search_path = pg_catalog, pg_temp;
alter function public.find_order(uuid, text) set search_path = pg_catalog, pg_temp;
alter function public.retire_menu_items(jsonb) set search_path = pg_catalog, pg_temp;

-- Replace the saved cart if the caller's cart is the one saved now (compare-and-set), within
-- the caps. Returns {"status": "saved", "revision": n} or {"status": "conflict", "cart":
-- load_cart(), "applied": whether a save with p_key was applied recently}.
create or replace function public.save_cart(p_user_id uuid, p_cart_id uuid, p_revision bigint,
                                            p_lines jsonb, p_key text default null)
returns jsonb
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
declare
  v_revision bigint;
  v_lines jsonb;
begin
  perform public.assert_acting_for(p_user_id);
  v_lines := concierge_private.cart_request(p_lines);
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
  select p_user_id, l.pos, l.item_id, l.size, l.quantity, l.notes
  from concierge_private.lines_of(v_lines) as l;
  return jsonb_build_object('status', 'saved', 'revision', v_revision);
end;
$$;

-- Turn the saved cart into an order, atomically and idempotently per p_key. What is ordered is
-- the cart as saved (a never-saved cart, revision 0, is the request itself); the request must
-- hold the same lines. Prices come from the menu, never from the caller. Returns
-- {"status": "placed", "order": ...}, {"status": "conflict", "cart": ...} (the saved cart is
-- another revision or holds other lines: nothing ordered) or {"status": "unavailable",
-- "items": [...]} (retired items in the cart: nothing ordered).
-- Security definer, because users cannot insert orders directly: it pins its search_path and
-- calls only functions that pin theirs.
create or replace function public.checkout(p_user_id uuid, p_cart_id uuid, p_revision bigint,
                                           p_key text, p_lines jsonb) returns jsonb
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_order_id uuid;
  v_request jsonb;
  v_lines jsonb;
  v_retired jsonb;
  v_bad record;
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
  v_request := concierge_private.cart_request(p_lines);
  if not public.cart_is_current(p_user_id, p_cart_id, p_revision) then
    return jsonb_build_object('status', 'conflict', 'cart', public.load_cart(p_user_id));
  end if;
  -- Every line of the request names a menu item, in a size it comes in.
  select l.item_id into v_bad from concierge_private.lines_of(v_request) as l
    where not exists (select from public.menu_items i where i.id = l.item_id)
    order by l.pos limit 1;
  if found then
    raise exception 'There is no menu item with id %.', v_bad.item_id using errcode = '22023';
  end if;
  select i.name, l.size,
         exists (select from public.menu_item_sizes z where z.item_id = l.item_id) as has_sizes
    into v_bad
    from concierge_private.lines_of(v_request) as l
    join public.menu_items i on i.id = l.item_id
    left join public.menu_item_sizes s on s.item_id = l.item_id and s.size = l.size
    where i.retired_at is null and s.size is null
      and (l.size is not null
           or exists (select from public.menu_item_sizes z where z.item_id = l.item_id))
    order by l.pos limit 1;
  if found and v_bad.has_sizes then
    raise exception '% does not come in size %.', v_bad.name, coalesce(v_bad.size, '(none)')
      using errcode = '22023';
  elsif found then
    raise exception '% comes in one size only.', v_bad.name using errcode = '22023';
  end if;
  -- What is ordered: the cart as saved, or the request when nothing is saved (revision 0).
  v_lines := coalesce(concierge_private.saved_lines(p_user_id), v_request);
  select coalesce(jsonb_agg(r.item_id order by r.first), '[]'::jsonb) into v_retired
    from (select l.item_id, min(l.pos) as first from concierge_private.lines_of(v_lines) as l
          join public.menu_items i on i.id = l.item_id
          where i.retired_at is not null group by l.item_id) as r;
  if jsonb_array_length(v_retired) > 0 then
    return jsonb_build_object('status', 'unavailable', 'items', v_retired);
  end if;
  if v_lines is distinct from v_request then  -- the request is not the cart as saved
    return jsonb_build_object('status', 'conflict', 'cart', public.load_cart(p_user_id));
  end if;

  v_order_id := gen_random_uuid();
  insert into public.orders (id, user_id, cart_id, checkout_key, total_cents)
  select v_order_id, p_user_id, p_cart_id, p_key,
         sum(coalesce(s.price_cents, i.price_cents) * l.quantity)::integer
  from concierge_private.lines_of(v_lines) as l
  join public.menu_items i on i.id = l.item_id
  left join public.menu_item_sizes s on s.item_id = l.item_id and s.size = l.size;
  insert into public.order_lines (order_id, position, user_id, item_id, name, restaurant_id,
                                  restaurant_name, size, quantity, unit_price_cents, notes)
  select v_order_id, l.pos, p_user_id, i.id, i.name, r.id, r.name, l.size, l.quantity,
         coalesce(s.price_cents, i.price_cents), l.notes
  from concierge_private.lines_of(v_lines) as l
  join public.menu_items i on i.id = l.item_id
  join public.restaurants r on r.id = i.restaurant_id
  left join public.menu_item_sizes s on s.item_id = l.item_id and s.size = l.size;
  delete from public.carts where user_id = p_user_id;
  return jsonb_build_object('status', 'placed', 'order', public.order_json(v_order_id));
end;
$$;
