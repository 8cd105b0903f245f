-- GENERATED from concierge/data/menu.toml by concierge/store/seed_sql.py: do not edit by hand.
-- Regenerate with `python -m concierge seed --sql`.
-- Every statement is an upsert: running this file twice changes nothing the second time.

begin;

insert into public.restaurants (id, name, cuisine, aliases, sort_order) values
  ('luigis_trattoria', 'Luigi''s Trattoria', 'Italian', array['luigi''s', 'luigis', 'luigi', 'trattoria']::text[], 0),
  ('burger_barn', 'Burger Barn', 'American', array['burger barn', 'the barn']::text[], 1),
  ('sakura_sushi', 'Sakura Sushi', 'Japanese', array['sakura', 'sakura sushi']::text[], 2),
  ('green_bowl', 'Green Bowl', 'Plant-based', array['green bowl']::text[], 3),
  ('taqueria_sol', 'Taqueria Sol', 'Mexican', array['taqueria sol', 'taqueria', 'sol']::text[], 4)
on conflict (id) do update set name = excluded.name, cuisine = excluded.cuisine, aliases = excluded.aliases, sort_order = excluded.sort_order;

insert into public.menu_items (id, restaurant_id, name, category, price_cents, tags, sort_order) values
  ('margherita_pizza', 'luigis_trattoria', 'Margherita Pizza', 'pizza', null, array['vegetarian']::text[], 0),
  ('pepperoni_pizza', 'luigis_trattoria', 'Pepperoni Pizza', 'pizza', null, '{}'::text[], 1),
  ('spaghetti_carbonara', 'luigis_trattoria', 'Spaghetti Carbonara', 'pasta', 1550, '{}'::text[], 2),
  ('penne_arrabbiata', 'luigis_trattoria', 'Penne Arrabbiata', 'pasta', 1300, array['vegan']::text[], 3),
  ('caesar_salad', 'luigis_trattoria', 'Caesar Salad', 'salad', 950, '{}'::text[], 4),
  ('garlic_bread', 'luigis_trattoria', 'Garlic Bread', 'side', 500, array['vegetarian']::text[], 5),
  ('tiramisu', 'luigis_trattoria', 'Tiramisu', 'dessert', 700, array['vegetarian']::text[], 6),
  ('classic_cheeseburger', 'burger_barn', 'Classic Cheeseburger', 'burger', 999, '{}'::text[], 7),
  ('double_bacon_burger', 'burger_barn', 'Double Bacon Burger', 'burger', 1299, '{}'::text[], 8),
  ('veggie_burger', 'burger_barn', 'Veggie Burger', 'burger', 1049, array['vegetarian']::text[], 9),
  ('fries', 'burger_barn', 'Fries', 'side', null, array['vegan']::text[], 10),
  ('onion_rings', 'burger_barn', 'Onion Rings', 'side', 449, array['vegetarian']::text[], 11),
  ('chocolate_shake', 'burger_barn', 'Chocolate Shake', 'drink', null, array['vegetarian']::text[], 12),
  ('coke', 'burger_barn', 'Coke', 'drink', null, array['vegan']::text[], 13),
  ('sprite', 'burger_barn', 'Sprite', 'drink', null, array['vegan']::text[], 14),
  ('california_roll', 'sakura_sushi', 'California Roll', 'sushi', 850, '{}'::text[], 15),
  ('spicy_tuna_roll', 'sakura_sushi', 'Spicy Tuna Roll', 'sushi', 950, '{}'::text[], 16),
  ('salmon_nigiri', 'sakura_sushi', 'Salmon Nigiri', 'sushi', 600, '{}'::text[], 17),
  ('vegetable_tempura', 'sakura_sushi', 'Vegetable Tempura', 'side', 1100, array['vegetarian']::text[], 18),
  ('miso_soup', 'sakura_sushi', 'Miso Soup', 'soup', 350, array['vegan']::text[], 19),
  ('edamame', 'sakura_sushi', 'Edamame', 'side', 450, array['gluten-free', 'vegan']::text[], 20),
  ('green_tea', 'sakura_sushi', 'Green Tea', 'drink', 250, array['gluten-free', 'vegan']::text[], 21),
  ('falafel_bowl', 'green_bowl', 'Falafel Bowl', 'bowl', 1250, array['vegan']::text[], 22),
  ('quinoa_salad', 'green_bowl', 'Quinoa Salad', 'salad', 1100, array['gluten-free', 'vegan']::text[], 23),
  ('tofu_poke_bowl', 'green_bowl', 'Tofu Poke Bowl', 'bowl', 1350, array['vegan']::text[], 24),
  ('acai_bowl', 'green_bowl', 'Acai Bowl', 'bowl', 900, array['gluten-free', 'vegan']::text[], 25),
  ('lentil_soup', 'green_bowl', 'Lentil Soup', 'soup', 650, array['gluten-free', 'vegan']::text[], 26),
  ('kombucha', 'green_bowl', 'Kombucha', 'drink', 400, array['gluten-free', 'vegan']::text[], 27),
  ('chicken_tacos', 'taqueria_sol', 'Chicken Tacos', 'tacos', 1000, '{}'::text[], 28),
  ('carne_asada_burrito', 'taqueria_sol', 'Carne Asada Burrito', 'burrito', 1200, '{}'::text[], 29),
  ('bean_and_cheese_burrito', 'taqueria_sol', 'Bean and Cheese Burrito', 'burrito', 950, array['vegetarian']::text[], 30),
  ('chips_and_guacamole', 'taqueria_sol', 'Chips and Guacamole', 'side', 600, array['gluten-free', 'vegan']::text[], 31),
  ('horchata', 'taqueria_sol', 'Horchata', 'drink', null, array['vegetarian']::text[], 32),
  ('churros', 'taqueria_sol', 'Churros', 'dessert', 500, array['vegetarian']::text[], 33)
on conflict (id) do update set restaurant_id = excluded.restaurant_id, name = excluded.name, category = excluded.category, price_cents = excluded.price_cents, tags = excluded.tags, sort_order = excluded.sort_order;

insert into public.menu_item_sizes (item_id, size, price_cents) values
  ('margherita_pizza', 'small', 1100),
  ('margherita_pizza', 'medium', 1400),
  ('margherita_pizza', 'large', 1700),
  ('pepperoni_pizza', 'small', 1200),
  ('pepperoni_pizza', 'medium', 1500),
  ('pepperoni_pizza', 'large', 1800),
  ('fries', 'small', 299),
  ('fries', 'medium', 399),
  ('fries', 'large', 499),
  ('chocolate_shake', 'medium', 549),
  ('chocolate_shake', 'large', 649),
  ('coke', 'small', 199),
  ('coke', 'medium', 249),
  ('coke', 'large', 299),
  ('sprite', 'small', 199),
  ('sprite', 'medium', 249),
  ('sprite', 'large', 299),
  ('horchata', 'medium', 350),
  ('horchata', 'large', 450)
on conflict (item_id, size) do update set price_cents = excluded.price_cents;

insert into public.profiles (id, handle, name, dietary, address) values
  ('00000000-0000-4000-8000-000000000001', 'demo', 'Dana Demo', array['vegetarian']::text[], '12 Garden Lane, Springfield'),
  ('00000000-0000-4000-8000-000000000002', 'alex', 'Alex Rivera', '{}'::text[], '88 Harbor Street, Apt 4B, Springfield')
on conflict (id) do update set handle = excluded.handle, name = excluded.name, dietary = excluded.dietary, address = excluded.address;

select public.retire_menu_items('["margherita_pizza", "pepperoni_pizza", "spaghetti_carbonara", "penne_arrabbiata", "caesar_salad", "garlic_bread", "tiramisu", "classic_cheeseburger", "double_bacon_burger", "veggie_burger", "fries", "onion_rings", "chocolate_shake", "coke", "sprite", "california_roll", "spicy_tuna_roll", "salmon_nigiri", "vegetable_tempura", "miso_soup", "edamame", "green_tea", "falafel_bowl", "quinoa_salad", "tofu_poke_bowl", "acai_bowl", "lentil_soup", "kombucha", "chicken_tacos", "carne_asada_burrito", "bean_and_cheese_burrito", "chips_and_guacamole", "horchata", "churros"]'::jsonb);

commit;
