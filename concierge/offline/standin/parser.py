"""What one customer message asks for, read by rules that know the menu. Not an AI model.

`IntentParser.parse` turns "actually, make that one margherita pizza" into an `Intent` (here a
change of quantity) that the planner turns into tool calls. The rules are tried in order, most
specific first (a short "yes", a correction, a removal, a question, an order); each is a small
function, so a new phrase is one pattern or one rule. Items are recognised with the catalog's
forgiving search (plurals, small typos), quantities with `numbers.spell_quantities`.
Being deterministic is what lets the lab and CI run whole conversations with the same result
every time.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from ...confirmation import is_explicit_yes
from ...menu import SIZES, Catalog, MenuItem, stem, words
from .numbers import MARKERS, PARTY, PEOPLE, party_size, spell_quantities
from .repair import Repairs
from .selector import SIZE_WORDS, Pick, Selector, has_head, without_sized

DIETARY_WORDS = {"vegan": "vegan", "vegetarian": "vegetarian", "gluten free": "gluten-free"}

#: How many texts' items a parser remembers.
_SEEN = 256

#: Below this search score a phrase is not taken as naming an item.
MATCH_THRESHOLD = 0.6

#: Words that say how, not what: left out of the phrase searched for an item.
_FILLER = frozenset((
    "of", "please", "i", "id", "like", "want", "would", "get", "me", "can", "have", "order",
    "add", "ill", "take", "some", "the", "actually", "also", "oh", "just", "give", "could", "you",
    "to", "my", "more", "another", "and", "make", "that", "those", "it", "them", "instead", "let",
    "us", "lets", "we", "need", "a", "an", "one", "thanks", "thank", "yes", "yeah", "ok", "okay",
    "so", "um", "uh", "well", "then", "too", "as", "for", "now", "change", "swap", "switch",
    "rather", "meant", "sorry", "no", "wait", "hmm", "hi", "hey", "there", "maybe", "think", "s",
    "is", "are", "any", "anything", "what", "whats", "which", "how", "much", "does", "do", "cost",
    "price", "at", "from", "in", "on", "anymore", "after", "all", "though", "might", "mind",
    "adding", "hoping", "was", "possible", "love", "put", "bring", "throw", "go", "nah", "nope",
    "prefer", "hmm", "sure", "great", "perfect", "cool", "wondering", "if", "suppose", "we",
    "lemme", "gimme", "yeah", "like", "um", "uh", "er", "hello", "alright", "sounds", "good",
    "awesome", "lovely",
))  # fmt: skip
_PRONOUNS = re.compile(r"\b(it|that|those|them|this|these|one)\b")

_GREETING = re.compile(r"^(hi|hello|hey|good (?:morning|afternoon|evening))\b")
_THANKS = re.compile(r"^(thanks|thank you|cheers|great|perfect|awesome|cool|lovely)\b")
_NO = re.compile(
    r"^(?:no|nope|nah|not yet|no thanks|no thank you|"
    r"(?:no,? |oh |um,? )?(?:wait|hold on|hang on)(?: a (?:sec|second|minute|moment))?)(?: please)?$"
)
_UNDO = re.compile(
    r"\b(never ?mind|scratch that|forget(?: about)?(?: it| that)?|cancel that|undo(?: that)?|actually no|"
    r"no actually|take that back)\b"
)
_CLEAR = re.compile(
    r"\b(start (?:over|again)|clear (?:the |my )?(?:cart|order|basket)|empty (?:the |my )?"
    r"(?:cart|basket)|cancel (?:everything|it all|the whole (?:thing|order)|my (?:whole )?order)|"
    r"(?:remove|delete|drop) (?:everything|it all)|scrap (?:everything|it all))\b"
    r"(?! but| except| apart| other than| save)"
)
_REVIEW = re.compile(
    r"\b(check ?out|that'?s (?:all|it|everything)|that'?ll be (?:all|it)|that is (?:all|it)|"
    r"i'?m (?:done|finished|all set)|nothing else|(?:place|confirm|finish|complete) (?:the |my )?"
    r"order|ready to (?:order|pay)|pay now|i'?d like to pay|that'?ll do|that should do(?: it)?|"
    r"that'?s about (?:it|all)|wrap it up|(?:^|all )done$)\b"
)
_NEGATE = re.compile(
    r"(?:^|\b)(?:i )?(?:don'?t|do not|dont|didn'?t) (?:want|need|add|give me|get|order)\b|"
    r"(?:^|, )(?:(?:actually|oh|sorry|um|well),? )?no (?:more )?"
    r"(?!wait|thanks|thank|actually|problem|worries|need)(?=\w)|^not (?:the|a|any)\b|\bskip the\b"
)
_REMOVE = re.compile(
    r"\b(remove|take (?:off|out|away)|take(?= .+ (?:off|out)\b)|delete|drop|cancel|get rid of|"
    r"no more|lose the|less|fewer|scratch)\b"
)
_REPLACES = re.compile(r"\b(instead|make (?:it|that|this)|i meant|rather)\b")
_PARTICLES = re.compile(r"\b(off|out|away|(?:from|of) (?:my|the) (?:cart|order|basket))\b")
_ALL_SIZED = re.compile(
    r"^(?:(?:all|both|each)(?: of (?:them|those))? (\w+)|(\w+) for (?:all|both))$"
)
_MAKE = re.compile(r"\b(make|change|switch|swap)\b")
_ADDITIVE = re.compile(r"\b(add|also|too|more|another|as well|plus)\b")
_CHANGE = re.compile(
    r"\b(instead|actually|make|change|switch|swap|i meant|rather|correction|replace|no wait|"
    r"(?:should|could|can) be|"
    r"(?:just|only) (?=\d))\b"
)
_SWAP = re.compile(
    r"^(?:.*?\b(?:change|switch|swap|replace|make))\s+(?P<src>.+?)\s+(?:to|for|with|into)\s+"
    r"(?P<dst>.+)$|^(?P<dst2>.+?)\s+instead of\s+(?P<src2>.+)$"
)
#: "forget the coke and give me a sprite", "no fries, but add onion rings": out with one, in
#: with the other — a swap said as two clauses.
_OUT_AND_IN = re.compile(
    r"\b(?:forget|remove|drop|cancel|scratch|take off|get rid of|lose|no|not|don'?t want)"
    r"\s+(?P<src>.+?),?\s+(?:and|but)\s+(?:instead\s+)?"
    r"(?:give me|get me|bring me|i'?ll have|i'?d like|i want|add|make it|just)\s+(?P<dst>.+)$"
)
_SAME_SIZE = re.compile(r",?\s*(?:in )?(?:the )?same size(?: as (?:that|before|the last 1))?\b")
#: "make 1 of them a garlic bread", "change 1 of the caesar salads to a garlic bread".
_SWAP_PART = re.compile(
    r"\b(?:make|change|switch|swap|replace|turn)\s+(?P<n>\d+) of (?P<src>them|those|these|the .+?)"
    r"\s+(?:(?:to|into|for|with) )?(?P<dst>.+)$"
    r"|\b(?P<n2>\d+) of (?P<src2>them|those|these|the .+?) (?:should|could|can|will) be (?P<dst2>.+)$"
)
_MORE = re.compile(
    r"\b(another(?: 1)?|1 more|(?P<n>\d+) more|same again|the same|more of (?:those|them|that)|"
    r"again|(?P<n2>\d+) of (?:those|them|these)|i'?ll (?:take|have|get) (?:it|that|1|them|(?P<n3>\d+))$|"
    r"(?:i'?ll |i'?d |let'?s )?go (?:with|for) (?:it|that|those|them|this|these|1)|"
    r"(?:ok|okay|sure|great|perfect|then),? (?P<n4>\d+)(?: please)?$|"
    r"(?:i'?ll (?:have|take|get)|add|get me|give me) (?:it|that|those|them|this|these)"
    r"(?=$| please| too| then| as well| thanks))\b"
)
#: "my wife wants what I'm having": every line of the cart again.
_SAME_AS_ME = re.compile(
    r"\b(what i'?m having|what i have|(?:the )?same as (?:me|mine)|what i ordered)\b"
)
_CART = re.compile(
    r"\b(cart|basket|(?:my|the) total|total (?:so far|now)|all together|altogether|in total|"
    r"my order so far|what'?s in my order|what have i (?:got|ordered)|"
    r"read (?:it|my order) back|what did i order|what do (?:i|we) owe|how much do (?:i|we) owe)\b"
)
_PROFILE = re.compile(
    r"\b(my profile|profile|my address|who am i|my diet|dietary preferences?|deliver(?:ing)? to)\b"
)
_MENU = re.compile(r"\b(menu|what (?:does|do) .+ (?:have|sell|serve|do)|what'?s at)\b")
_PRICE = re.compile(r"\b(how much|what(?:'s| is| does) the price|what does .+ cost|price of)\b")
_QUESTION = re.compile(
    r"^(do you have|do they have|is there|are there|have you got|what|which|how|anything|any|"
    r"is the|are the|does the)\b"
)
_ORDER_VERB = re.compile(
    r"\b(i'?d like|i would like|i want|i'?ll (?:have|take|get)|get me|can i (?:get|have)|"
    r"could i (?:get|have)|give me|order|add|i need|we'?ll have|let me get|may i have|"
    r"might i (?:get|have)|would you mind|i was hoping|(?:could|can|would) you (?:add|put|get|bring)|"
    r"put in|is it possible to (?:get|have|order)|i'?d love|i'?ll go (?:with|for)|i'?d go for|"
    r"(?:could|can|may|might) (?:i|we)(?: also| please| maybe)? (?:get|have|order|grab)|"
    r"wondering if (?:i|we) (?:could|can|might)|(?:think|suppose) (?:i|we) (?:could|can) (?:get|have))\b"
)
#: "which places can I order from": the restaurants.
_PLACES = re.compile(
    r"\b(which|what) (?:places|restaurants)\b|\bwhere can i (?:order|eat)\b|"
    r"\b(?:list|name) (?:the )?(?:places|restaurants)\b"
)
#: "is it vegan?", "is that spicy?": a property of the item just asked about or ordered.
_TAG_QUESTION = re.compile(
    r"^(?:and |so |but )?(?:is|are) (?:it|that|they|those|this|these)(?: 1)? (?:also |very |too )?"
    r"(?P<tag>gluten free|[a-z]+)\s*\??$"
)
#: "any heat in it?", "is it hot?": spicy, as the menu's names say it.
_HEAT = re.compile(
    r"^(?:and |so )?(?:any|much|is there (?:any|much)) (?:heat|kick|spice) (?:in|to|on) "
    r"(?:it|that|this|them|those)|^(?:is|are) (?:it|that|they|this) (?:very )?hot\b"
)
#: "what's in that one?", "tell me about it": the item just asked about or ordered.
_ABOUT = re.compile(
    r"^(?:so |and |ok )?(?:what'?s|what is|whats) in (?:it|that|this|them|those)(?: 1)?\s*\??$|"
    r"^(?:tell me|say) (?:more )?about (?:it|that|this)(?: 1)?\s*\??$"
)
#: "tell me about the churros", "what's in the poke bowl?": a dish named, asked about.
_ABOUT_NAMED = re.compile(
    r"^(?:so |and |ok )?(?:(?:can you |could you )?tell me (?:more )?about|what'?s in|whats in|"
    r"what is in|describe) (?P<what>.+?)\s*\??$"
)
#: "the burger place", "the taco spot": a restaurant named by a word of its name or cuisine.
_PLACE = re.compile(r"\b(?:the )?(\w+) (?:place|restaurant|spot|joint|shop|guys)\b")
#: A refusal followed by what to have instead: "nah, I'd prefer the penne", "nope, large".
_REFUSE_THEN = re.compile(
    r"^(?:(?:hmm|um|uh|oh|well|no),? )?(?:no|nope|nah)(?:,\s*| (?=.*\b(?:rather|instead|prefer|"
    r"i'?d (?:like|prefer|rather)|i'?ll (?:have|take)|make (?:it|that|them)|give me|the \w+ 1)\b))"
    r"(?!wait|thanks|thank|problem|worries|that'?s|thats|i'?m)(?P<rest>.+)$"
)
#: "hold on, …", "wait, …": a hesitation before what the customer wants (alone, it is a "no").
_HESITATION = re.compile(
    r"^(?:(?:oh|um|uh|hmm|er),? )?(?:(?:no|sorry),? )?(?:wait|hold on|hang on)"
    r"(?: a (?:sec|second|minute|moment))?(?:,\s*|\s+)(?=\S)"
    r"(?!please$|a (?:sec|second|minute)|yes|yeah|yep|sure|ok)"  # "wait, yes" is no yes
)
#: "for me", "for my son": who a dish is for, not which dish.
_FOR_SOMEONE = re.compile(r"\bfor (?:me|myself|him|her|my (?:\w+ )?\w+|the kids?|the baby)\b")
#: "a spicy tuna roll 2 miso soups", "a cheeseburger a coke": a number or an article after a
#: word starts the next item.
_NEXT_ITEM = re.compile(r"(?<=[a-z]) (?=(?:\d+|a|an) (?!of\b|more\b|less\b|fewer\b)[a-z])")
#: "for each of us", "a coke each", "we each want …": one per person, never "every item".
_FOR_PEOPLE = re.compile(
    r"\b(?:\d+|each|every 1|all) of us\b|\bper person\b|\bwe each\b|"
    r"(?<!make )(?<!remove )\beach(?=$|,| please| for\b| and\b| then\b)"
)
_EACH = re.compile(
    r"\b(?:for )?(?:each of us|every 1 of us|per person|each|every 1|everyone|everybody)\b"
)
#: How a note on a dish starts ("no onions", "extra salsa", "dressing on the side").
_NOTE_START = r"(?:no|without|extra|light|hold the|easy on the|not too)\b"
_NOTES = re.compile(
    rf"\b((?:with )?(?:{_NOTE_START} [a-z ]+?|(?:the )?[a-z]+ on the side))(?=,|;| and |$)"
)
#: What a note says it is for, dropped from the note ("extra salsa on them").
_NOTE_TAIL = re.compile(
    r"(?: on (?:it|them|that|those|this|these|the (?!side\b)\w+(?: \w+)?))?(?: please)?$"
)
_SPLIT = re.compile(
    r",|;|\band\b|\bplus\b|\balso\b|&|"
    r"\bwith\b(?!\s+(?:no|extra|light|hold)\b|\s+(?:the )?[a-z]+ on the side\b)"
)


@dataclass(frozen=True)
class ItemRequest:
    """One thing the customer named: an item (or an unresolved phrase), how many, size, notes."""

    phrase: str
    item_id: str | None = None
    quantity: int = 1
    size: str | None = None
    notes: str = ""
    ambiguous: tuple[str, ...] = ()
    #: True when a number was said ("two pizzas"), False for the implied one ("a pizza").
    counted: bool = False
    #: "few", "negative" or "fraction": a quantity to ask about instead of guessing.
    unclear: str | None = None
    #: One for each person ("a small coke each", "a nigiri per person").
    each: bool = False


@dataclass(frozen=True)
class Intent:
    """What one customer message asks for.

    kind: order remove negate change out_and_in scale more repeat undo clear review confirm deny view_cart
    profile menu search size_answer quantity_answer greeting thanks sequence unknown.
    """

    kind: str
    items: tuple[ItemRequest, ...] = ()
    #: For a change "X to Y": the X (the line to change or replace); `items` holds the Y.
    source: tuple[ItemRequest, ...] = ()
    restaurant_id: str | None = None
    dietary: str | None = None
    query: str = ""
    size: str | None = None
    quantity: int | None = None
    #: For "review": the words were also an explicit yes ("that's it, place my order").
    yes: bool = False
    #: For "change": the words replace what was just ordered ("make it a sprite instead").
    replaces: bool = False
    #: For "change": only this many of the line are replaced ("make one of them a garlic bread").
    part: int | None = None
    #: For "order": sized items take the size of the line last ordered ("a coke, same size").
    same_size: bool = False
    #: Items named by kind, place, price or restaurant instead of by name (see `selector`).
    pick: Pick | None = None
    #: For "order": the message also closes the order ("... and that's all"): read it back.
    then_review: bool = False
    #: For "order": one for each person ("a sprite for each of us"); `quantity` when said.
    each: bool = False
    #: For "sequence": the operations said one after another, in order.
    parts: tuple[Intent, ...] = ()


_PAUSE = re.compile(r"\s*(?:[—–]|\.{2,}|…)\s*|\s+-+\s+")


def normalize(text: str) -> str:
    """Lower-case, straight apostrophes, quantities as digits, single spaces."""
    text = text.lower().replace("’", "'")
    text = _PAUSE.sub(", ", text)  # "no — the penne", "cannoli... i mean": a pause, said as a comma
    text = spell_quantities(re.sub(r"[^a-z0-9'.,;&?½/ -]", " ", text))
    text = re.sub(r"(?<=[a-z])-(?=[a-z])", " ", text)
    return re.sub(r"\s+", " ", re.sub(r"[^a-z0-9' ,;&?]", " ", text)).strip()


Rule = Callable[["IntentParser", str], Intent | None]


class IntentParser:
    """Turns a customer message into an `Intent`, using the catalog to recognise items."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        # Item names that contain a splitting word ("bean and cheese burrito") are protected
        # before a request is split into parts.
        self._protected = {
            " ".join(words(i.name)): " ".join(words(i.name)).replace(" ", "_")
            for i in catalog.items.values()
            if re.search(r"\b(and|with|plus)\b", i.name.lower())
        }
        self._seen: dict[str, tuple[ItemRequest, ...]] = {}
        self.selector = Selector(catalog)
        self._repairs = Repairs(
            ids=self._ids, kinds=self._kinds, has_item=lambda t: bool(self.items(t)),
            size_only=size_only, size_words=frozenset(SIZE_WORDS), protected=self._protected,
            closing=_REVIEW,
        )  # fmt: skip

    def _ids(self, text: str) -> set[str]:
        """The items `text` names (every candidate of an ambiguous name)."""
        return {i for r in self.resolved(text) for i in (r.item_id, *r.ambiguous) if i}

    def _kinds(self, text: str) -> set[str]:
        """The items `text` names by name or by kind ("the shake", "soup")."""
        pick = self.selector.named(text)
        return self._ids(text) | (set(pick.kinds) if pick and pick.kinds else set())

    def parse(self, message: str) -> Intent:
        text = normalize(message)
        if not re.search(r"[a-z0-9]", text):
            return Intent("unknown", query=message)
        return self.read(self.repair(_HESITATION.sub("", text) or text), message)

    def read(self, text: str, message: str = "") -> Intent:
        """The intent of normalized `text`: the first rule that reads it."""
        for rule in RULES:
            intent = rule(self, text)
            if intent is not None:
                return intent
        # nothing to do, but say which dishes were heard
        return Intent("unknown", items=self.resolved(text), query=message or text)

    # --- pieces the rules share ---------------------------------------------------------------

    def restaurant_by_word(self, word: str) -> str | None:
        """The name of the one restaurant whose name, cuisine or a dish kind has `word`."""
        w = stem(word)
        found = [
            r.name.lower().replace("'", "")
            for r in self.catalog.restaurants.values()
            if w in {stem(x) for x in words(f"{r.name} {r.cuisine}")}
            or any(w == stem(i.category) for i in self.catalog.items.values()
                   if i.restaurant_id == r.id)
        ]  # fmt: skip
        return found[0] if len(found) == 1 else None

    def repair(self, text: str) -> str:
        """Self-repairs applied before acting ("a lentil soup no wait a quinoa salad"; see
        `repair`)."""
        return self._repairs.apply(text)

    def items(self, text: str) -> tuple[ItemRequest, ...]:
        """Every item named in `text`, with its quantity, size and notes (several rules ask for
        the same text, so the answers are kept)."""
        known = self._seen.get(text)
        if known is None:
            known = self._seen[text] = self._read_items(text)
            if len(self._seen) > _SEEN:
                del self._seen[next(iter(self._seen))]
        return known

    def _read_items(self, text: str) -> tuple[ItemRequest, ...]:
        for name, joined in self._protected.items():
            text = text.replace(name, joined)
        text = _FOR_SOMEONE.sub(" ", text)
        requests: list[ItemRequest] = []
        for part in _SPLIT.split(_NEXT_ITEM.sub(",", text)):
            part = part.replace("_", " ").strip(" ,?")
            if not part:
                continue
            if re.fullmatch(r"(?:and )?(\d+)(?: more| too| as well)?", part) and requests:
                # "a shake for me and one for my son": one more of the item before
                last = requests[-1]
                if not (last.counted and last.quantity > 1):  # "2 cokes, 1 for me and 1 for her"
                    requests[-1] = replace(last, quantity=last.quantity + int(part.split()[-1]))
                continue
            every = _size_for_all(part)
            if every is not None and requests:
                requests = [self._sized(r, every) for r in requests]
                continue
            size = size_only(part)
            if size is not None and requests and requests[-1].size is None:
                # "a horchata, large": a size on its own belongs to the item before it
                last = requests[-1]
                item = self.catalog.items.get(last.item_id or "")
                requests[-1] = replace(last, size=fit_size(size, item) if item else size)
                continue
            note = _NOTES.fullmatch(part)
            if note is not None and requests and not requests[-1].notes:
                # "two tacos, extra salsa on them": the note is the dish's before it
                notes = _NOTE_TAIL.sub("", note.group(1).removeprefix("with ").strip())
                requests[-1] = replace(requests[-1], notes=notes)
                continue
            for request in self._items_in(part):
                if requests and _same_item(requests[-1], request):
                    continue  # "chips and guacamolle": a name split at its "and" by a typo
                requests.append(request)
        return tuple(requests)

    def _items_in(self, part: str, depth: int = 0) -> list[ItemRequest]:
        """The dish in `part`, or — when no dish answers to all of it — the dishes said one
        after another without a pause ("a classic cheeseburger fries large")."""
        request = self._item(part)
        if request is None:
            return []
        if depth > 2 or self._explained(request):
            return [request]
        ws = part.split()
        for i in range(1, len(ws)):
            head = self._item(" ".join(ws[:i]))
            if head is not None and head.item_id:
                tail = self._items_in(" ".join(ws[i:]), depth + 1)
                ids = [head.item_id, *(t.item_id for t in tail)]
                if tail and None not in ids and len(set(ids)) == len(ids):
                    return [head, *tail]
        return [request]

    def _explained(self, r: ItemRequest) -> bool:
        """Whether every word of the phrase is a word of the dish it found (or nothing was found
        in a one-word phrase): then there is no second dish hiding in it."""
        said = r.phrase.split()
        if r.item_id is None:
            return len(said) < 2
        item = self.catalog.items[r.item_id]
        known = {stem(w) for w in words(f"{item.name} {item.category}")}
        return all(stem(w) in known for w in said)

    def _sized(self, r: ItemRequest, size: str) -> ItemRequest:
        """ "all large": the size for each item said without one."""
        item = self.catalog.items.get(r.item_id or "")
        return r if r.size or (item and not item.has_sizes) else replace(r, size=size)

    def _item(self, part: str) -> ItemRequest | None:
        notes = ""
        m = _NOTES.search(part)
        if m:
            notes = _NOTE_TAIL.sub("", m.group(1).removeprefix("with ").strip())
            part = (part[: m.start()] + part[m.end() :]).strip()
        quantity, counted, unclear, size, rest = 1, False, None, None, []
        for w in words(part):
            if w.isdigit():
                quantity, counted = int(w), True
            elif w in MARKERS:
                unclear = MARKERS[w]
            elif w in SIZE_WORDS:
                size = SIZE_WORDS[w]
            elif w not in _FILLER:
                rest.append(w)
        phrase = " ".join(rest)
        if not phrase:
            return None
        found = ItemRequest(phrase, None, quantity, size, notes, (), counted, unclear)
        hits = [h for h in self.catalog.search(phrase, limit=5) if h.score >= MATCH_THRESHOLD]
        if not hits:
            return found
        if len(hits) > 1 and hits[1].score == hits[0].score:  # "a burger": every good match
            return replace(found, ambiguous=tuple(h.item.id for h in hits))
        item = hits[0].item
        return replace(found, item_id=item.id, size=fit_size(size, item))

    def resolved(self, text: str) -> tuple[ItemRequest, ...]:
        return tuple(i for i in self.items(text) if i.item_id or i.ambiguous)


# --- the rules, most specific first -------------------------------------------------------------


def _short_reply(p: IntentParser, text: str) -> Intent | None:
    n = len(text.split())
    if n <= 4 and _GREETING.match(text):
        return Intent("greeting")
    if n <= 5 and _THANKS.match(text) and not _REVIEW.search(text) and not _said_more(p, text):
        return Intent("thanks")
    if (
        n <= 6
        and is_explicit_yes(text)
        and not _REVIEW.search(text)
        and not p.resolved(text)
        and not re.search(r"\d", text)  # "sounds good, two of those": an order, not a yes
    ):
        return Intent("confirm")
    if _NO.match(text.replace(",", "")):
        return Intent("deny")
    return None


def _said_more(p: IntentParser, text: str) -> bool:
    """ "great, I'll take two", "perfect, go with that": more than thanks."""
    return bool(re.search(r"\d", text) or _MORE.search(text) or _ORDER_VERB.search(text))


def _refuse_then(p: IntentParser, text: str) -> Intent | None:
    """ "nah, I'd prefer the penne", "nope, large please", "no, put in some churros too": a
    refusal, then what to have instead (the line just ordered goes) or as well."""
    m = _REFUSE_THEN.match(text)
    if m is None:
        return None
    rest = m.group("rest").strip(" ,")
    if _REMOVE.search(rest) or _MAKE.search(rest) or _REVIEW.search(rest):
        return p.read(rest)  # "no, remove the onion rings": a refusal, then a request
    size = size_only(rest)
    if size is not None:
        return Intent("change", size=size)
    named = p.resolved(re.sub(r"^(the \w+(?: \w+)?) 1\b", r"\1", rest))  # "the veggie one"
    if not named:
        return None
    if _ADDITIVE.search(rest) or re.search(r"\b(put in|as well)\b", rest):
        return Intent("order", items=named)
    return Intent("change", items=named, replaces=True)


#: "actually not the coke, a sprite": out with one, in with the other.
_NOT_BUT = re.compile(
    r"^(?:(?:actually|no|wait|sorry|oh|oops),? )*not (?P<src>[^,]+?),? (?:but |just |make it )?"
    r"(?P<dst>(?:a|an|the|\d+) .+|\d+)$"
)


def _not_but(p: IntentParser, text: str) -> Intent | None:
    """ "not the coke, a sprite" swaps; "not three rolls, two" sets how many of the line."""
    m = _NOT_BUT.match(text)
    if m is None:
        return None
    was, now = re.match(r"(\d+) ", m.group("src")), re.fullmatch(r"(\d+)", m.group("dst").strip())
    if was and now:
        pick = p.selector.named(m.group("src"))
        if pick is not None:
            return Intent(
                "change", quantity=int(now.group(1)), pick=replace(pick, held=int(was.group(1)))
            )
    src, dst = p.resolved(m.group("src")), p.resolved(m.group("dst"))
    return Intent("out_and_in", dst, src) if src and dst else None


_NOTE_ON_LINE = re.compile(
    rf"^(?:(?:and|oh|also|um|ok|actually|sorry|please),? )*(?P<note>{_NOTE_START} [a-z ]+?) "
    r"(?:on|in|for|with) (?P<which>1 of (?:them|those|the \w+(?: \w+)?)|it|them|that|those|this|"
    r"the \w+(?: \w+)?)(?: please)?$"
)


def _note_on_line(p: IntentParser, text: str) -> Intent | None:
    """ "no pickles on one of them", "hold the sour cream on that": a note for a line already
    ordered — the line (or one of it) gets the note, never a new dish."""
    m = _NOTE_ON_LINE.match(text)
    if m is None:
        return None
    which = m.group("which")
    named = p.resolved(re.sub(r"^1 of ", "", which)) if "the " in which else ()
    part = 1 if which.startswith("1 of") else None
    return Intent("note_on_line", named, query=m.group("note"), part=part)


def _picked(p: IntentParser, text: str) -> Intent | None:
    """Items named by kind, place or price: "drop the priciest item", "only keep the desserts",
    "the last one, make it four", "make all the drinks large", "one of every roll"."""
    pick = p.selector.read(text)
    if pick is None:
        return None  # most messages: no place, price or kind said
    if "after all" in text:  # "no drinks after all": no quantifier
        text = text.replace("after all", "").strip()
        pick = p.selector.read(text)
    # "the 2nd one", "the last one": the "one" names the line, it is no quantity
    headed = bool(_ONE_NAMES_IT.search(text)) or has_head(text)
    sized = without_sized(text)  # "make the large one a medium": medium is the new size
    text = _ONE_NAMES_IT.sub(r"\1", text)
    if pick is None:
        return None
    if not _picks(text, pick):
        return _picked_one(p, text, pick)
    asked = _QUESTION.match(text) or text.endswith("?")
    if asked and not (_REMOVE.search(text) or _CHANGE.search(text) or _ORDER_VERB.search(text)):
        return _asked_pick(p, pick)  # "anything vegan at Green Bowl?": a question
    if _NEGATE.search(text) and pick.kinds is not None:
        return Intent("remove", pick=pick)  # "no drinks after all": those lines go, none added
    by_name = any(r.item_id for r in p.resolved(p.selector.without_kinds(text)))
    if by_name and pick.price is None and pick.position is None and not pick.keep:
        return None  # "remove the caesar salad": the name says it
    counted = [int(n) for n in re.findall(r"\b(\d+)\b", text)]
    if _REMOVE.search(text) or pick.keep:
        if counted and pick.position is None and not (pick.price or pick.keep):
            return None  # "take off two of the tacos": so many of one line
        return Intent("remove", pick=pick)
    return _picked_change(text, pick, counted, headed, sized) or _picked_order(
        text, pick, counted, bool(asked)
    )


_ONE_NAMES_IT = re.compile(
    rf"\b(\d+(?:st|nd|rd|th)|last|final|middle|opening|\w+est|expensive|{'|'.join(SIZE_WORDS)}) 1\b"
)


def _picks(text: str, pick: Pick) -> bool:
    """Whether the words pick by more than a dish's name ("remove the salad" does not)."""
    if _FOR_PEOPLE.search(text):
        return False
    if _MORE.search(text) and pick.position is None and pick.price is None:
        return False
    return pick.kinds is None or bool(
        pick.every
        or pick.keep
        or pick.price
        or pick.position is not None
        or has_head(text)
        or _SHOULD.search(text)
    )


def _picked_change(
    text: str, pick: Pick, counted: list[int], headed: bool, sized: str
) -> Intent | None:
    """ "twice as many of the first one", "the last item, make it four", "all the drinks large",
    "the second one" (of those just offered), "make the large one a medium"."""
    size = next((SIZE_WORDS[w] for w in words(sized) if w in SIZE_WORDS), None)
    scale = re.search(r"\b(twice|double|triple|thrice)\b", text)
    if scale and pick.position is not None:
        return Intent("scale", quantity=3 if scale.group(1) in ("triple", "thrice") else 2,
                      pick=pick)  # fmt: skip
    changing = _CHANGE.search(text) or _SHOULD.search(text) or scale or counted
    if (pick.position is not None or pick.price) and pick.kinds is None and not changing:
        # "the second one", "the cheapest one" — a short request for one, not "last words heard"
        if headed and len(text.split()) <= 6:
            return Intent("more", quantity=1, pick=pick)
        return None
    changes = _CHANGE.search(text) or _SHOULD.search(text) or re.match(r"(?:wait,? )?not \d", text)
    if changes and (counted or size):
        was = re.match(r"(?:wait,? )?not (\d+)", text)  # "not four salads, three"
        pick = replace(pick, held=int(was.group(1))) if was and len(counted) > 1 else pick
        return Intent("change", size=size, quantity=counted[-1] if counted else None, pick=pick)
    return None


def _picked_one(p: IntentParser, text: str, pick: Pick) -> Intent | None:
    """ "the vegetarian burger", "a soup from green bowl please": kinds that together name one
    dish, ordered — never a question, a removal or a dish said by its own name."""
    if pick.kinds is None or pick.every or _QUESTION.match(text) or text.endswith("?"):
        return None
    if _REMOVE.search(text) or _NEGATE.search(text) or _CHANGE.search(text):
        return None
    rest = p.catalog.find_restaurant(text)[1]
    if any(r.item_id for r in p.resolved(p.selector.without_kinds(" ".join(rest)))):
        return None
    ids = pick.on_menu(p.catalog)
    if len(ids) != 1:
        return None
    counted = re.findall(r"\b(\d+)\b", text)
    return Intent("order", quantity=int(counted[0]) if counted else 1, pick=pick)


def _picked_order(text: str, pick: Pick, counted: list[int], asked: bool) -> Intent | None:
    """ "one of every roll", "the least expensive pasta please"."""
    quantified = pick.price or re.search(r"\b(every|each|all|both)\b", text)
    if quantified and not asked and (counted or pick.price or _ORDER_VERB.search(text)):
        return Intent("order", quantity=counted[0] if counted else 1, pick=pick)
    return None


def _asked_pick(p: IntentParser, pick: Pick) -> Intent | None:
    """ "what's the cheapest thing at Sakura?": the dish it names, looked up (and in focus)."""
    if pick.price is None:
        return None
    (item_id,) = pick.on_menu(p.catalog) or (None,)
    if item_id is None:
        return None
    name = p.catalog.items[item_id].name
    request = ItemRequest(name.lower(), item_id)
    return Intent(
        "search", (request,), restaurant_id=p.catalog.items[item_id].restaurant_id, query=name
    )


_SIZE_AND = re.compile(r"^([a-z ]+?),? (?:and|plus|also|and also) (.+)$")
_SHOULD = re.compile(r"\b(should|could|can|will|needs? to) be\b|\bmake (?:it|that|them|those)\b")


def _places(p: IntentParser, text: str) -> Intent | None:
    """Questions about the places and the dish in focus: which restaurants, "is it vegan?",
    "what's in that one?", "tell me about the churros" (which puts them in focus)."""
    if _PLACES.search(text):
        return Intent("places")
    if _ABOUT.match(text):
        return Intent("about")
    about = _ABOUT_NAMED.match(text)
    if about is not None and (named := p.resolved(about.group("what"))):
        query = " ".join(r.phrase for r in named)
        return Intent("search", tuple(r for r in named if r.item_id), query=query)
    if _HEAT.search(text):
        return Intent("tag_question", query="spicy")
    m = _TAG_QUESTION.match(text)
    if m is None or m.group("tag") in SIZE_WORDS:
        return None
    tag = m.group("tag")
    return Intent("tag_question", dietary=DIETARY_WORDS.get(tag), query=tag)


def _same_as_me(p: IntentParser, text: str) -> Intent | None:
    return Intent("repeat_all") if _SAME_AS_ME.search(text) else None


def _undo(p: IntentParser, text: str) -> Intent | None:
    m = _UNDO.search(text)
    if m is None:
        return None
    rest = (text[: m.start()] + " " + text[m.end() :]).strip(" ,")
    named = p.resolved(rest)
    if named:
        return Intent("negate", items=named)
    return None if re.search(r"\d", rest) or size_only(rest) else Intent("undo")


def _clear(p: IntentParser, text: str) -> Intent | None:
    return Intent("clear") if _CLEAR.search(text) else None


def _review(p: IntentParser, text: str) -> Intent | None:
    m = _REVIEW.search(text)
    if m is None:
        return None
    before = text[: m.start()].strip(" ,")
    before = re.sub(r"\b(?:and|so|ok|okay)$", "", before).strip(" ,")
    if before and not _NEGATE.search(before) and not _REMOVE.search(before):
        order = _order(p, before)  # "two tacos and churros that's all": the items, then read back
        if order is not None and any(r.item_id for r in order.items):
            return replace(order, then_review=True)
    return Intent("review", yes=is_explicit_yes(text))


_DOUBLE = re.compile(
    r"^(?:(?:can you|could you|please|just) )*(double|triple) (it|that|them|those)(?: please)?$"
)


def _double(p: IntentParser, text: str) -> Intent | None:
    """ "double it": twice the line just ordered (never the Double Bacon Burger)."""
    m = _DOUBLE.match(text)
    return Intent("scale", quantity=2 if m.group(1) == "double" else 3) if m else None


def _out_and_in(p: IntentParser, text: str) -> Intent | None:
    m = _OUT_AND_IN.search(text)
    if m is None:
        return None
    dst = p.resolved(m.group("dst"))
    if _PRONOUNS.fullmatch(m.group("src")):
        return Intent("out_and_in", dst) if dst else None  # the line just ordered goes
    src = p.resolved(m.group("src"))
    return Intent("out_and_in", dst, src) if src and dst else None


#: Where a second operation starts in one message: "add a burrito, take off one of the tacos".
_NEXT_OP = re.compile(
    r"(?:,\s*|\s+)(?:and\s+|then\s+)?(?=(?:take (?:off|out)|remove|drop|delete|get rid of|"
    r"scratch|add)\b)"
)
_OPERATIONS = frozenset(("order", "remove", "change", "scale", "negate", "out_and_in"))


def _sequence(p: IntentParser, text: str) -> Intent | None:
    """ "add a bean and cheese burrito, take off one of the tacos and that's it": several
    operations, each read on its own and carried out in order (then the read-back, if said)."""
    cuts = [m for m in _NEXT_OP.finditer(text) if m.start() > 0]
    if not cuts:
        return None
    closing = _REVIEW.search(text)
    if closing is not None and text[closing.end() :].strip(" ,"):
        return None
    body = text[: closing.start()] if closing else text
    bounds = [0, *(m.end() for m in cuts if m.end() <= len(body)), len(body)]
    segments = [body[a:b].strip(" ,") for a, b in zip(bounds, bounds[1:], strict=False)]
    segments = [re.sub(r"\s*\b(?:and|then)$", "", s) for s in segments if s]
    parts = tuple(p.read(s) for s in segments)
    if len(parts) < 2 or any(i.kind not in _OPERATIONS for i in parts):
        return None
    if all(i.kind == "order" for i in parts):
        return None  # a list of dishes: the order rule reads it whole
    return Intent("sequence", parts=parts, then_review=closing is not None)


def _negate(p: IntentParser, text: str) -> Intent | None:
    m = _NEGATE.search(text)
    if m is None:
        return None
    if re.search(r"\b(anything|nothing) else\b", text):
        return Intent("review")
    if (
        m.start() > 0
        and _NOTES.fullmatch(text[m.start() :].strip(" ,"))
        and p.resolved(text[: m.start()])
    ):
        return None  # "a classic cheeseburger, no onions": a note on the dish just ordered
    named = p.resolved(text[m.end() :])
    return Intent("negate", items=named) if named else None


def _remove(p: IntentParser, text: str) -> Intent | None:
    m = _REMOVE.search(text)
    if m is None:
        return None
    rest = _PARTICLES.sub(" ", text[: m.start()] + " " + text[m.end() :])
    named = p.items(rest)
    if named:
        return Intent("remove", items=named)
    if _PRONOUNS.search(rest) or re.fullmatch(r"\s*\d+\s*", rest):  # "remove it", "1 less"
        counted = re.search(r"\b(\d+)\b", rest)
        return Intent("remove", quantity=int(counted.group(1)) if counted else None)
    return Intent("view_cart")


def _change(p: IntentParser, text: str) -> Intent | None:
    if not _CHANGE.search(text):
        return None
    part = _SWAP_PART.search(text)
    if part is not None:
        src, dst = part.group("src") or part.group("src2"), part.group("dst") or part.group("dst2")
        source = () if _PRONOUNS.fullmatch(src) else p.items(src)
        n, size = int(part.group("n") or part.group("n2")), size_only(dst)
        if size is not None:  # "make 2 of them small"
            return Intent("change", (), source, size=size, part=n)
        if items := p.resolved(dst):
            return Intent("change", items, source, part=n, replaces=True)
        # "one of those should be a spaceship": look the words up, change nothing
        return Intent("order", p.items(dst)) if p.items(dst) else Intent("unknown", query=dst)
    swap = _SWAP.match(text)
    if swap is None and _ADDITIVE.search(text) and not _MAKE.search(text):
        return None  # "actually, add two more cheeseburgers" adds
    if swap:
        src_text = swap.group("src") or swap.group("src2")
        src = p.items(src_text)
        dst_text = swap.group("dst") or swap.group("dst2")
        dst = p.items(dst_text)
        if src or dst:
            intent = _change_intent(dst, dst_text, source=src)
            # "swap a salad for a garlic bread": one of the salads, not all of them
            some = src[0].quantity if src and re.match(r"(?:a|an|\d+) ", src_text) else None
            return replace(intent, replaces=True, part=some) if intent else None
    return _change_intent(p.items(text), text, source=())


def _change_intent(
    items: tuple[ItemRequest, ...], text: str, source: tuple[ItemRequest, ...]
) -> Intent | None:
    counted = re.search(r"\b(\d+)\b", text)
    size = next((SIZE_WORDS[w] for w in words(text) if w in SIZE_WORDS), None)
    if not items and not source and not counted and size is None:
        return None
    quantity = int(counted.group(1)) if counted else None
    if quantity is not None or size is not None:  # "too many, make it two": "many" is no dish
        items = tuple(i for i in items if i.item_id or i.ambiguous)
    replaces = bool(_REPLACES.search(text))
    return Intent("change", items, source, size=size, quantity=quantity, replaces=replaces)


def _more(p: IntentParser, text: str) -> Intent | None:
    m = _MORE.search(_SAME_SIZE.sub(" ", text))
    if m is None or p.resolved(text):
        return None
    if re.search(r"\b(same again|the same|again)\b", text):
        return Intent("repeat")
    counted = m.group("n") or m.group("n2") or m.group("n3") or m.group("n4")
    return Intent("more", quantity=int(counted) if counted else 1)


def _cart_or_profile(p: IntentParser, text: str) -> Intent | None:
    if _PROFILE.search(text):
        return Intent("profile")
    if _CART.search(text) and not p.resolved(text):
        return Intent("view_cart")
    return None


def _answer(p: IntentParser, text: str) -> Intent | None:
    size = size_only(text)
    if size is not None:
        return Intent("size_answer", size=size)
    m = _SIZE_AND.match(text)  # "large, and some churros": the size asked for, then more
    if m is not None and (size := size_only(m.group(1))) and (more := p.resolved(m.group(2))):
        return Intent("size_answer", more, size=size)
    ws = [w for w in words(text) if w not in _FILLER and w not in ("please", "just", "only")]
    if len(ws) == 1 and ws[0].isdigit():
        return Intent("quantity_answer", quantity=int(ws[0]))
    return None


def _question(p: IntentParser, text: str) -> Intent | None:
    asked = bool(_QUESTION.match(text)) or text.endswith("?")
    place = _PLACE.search(text)
    if place is not None and (named_place := p.restaurant_by_word(place.group(1))):
        text = text.replace(place.group(0), f" {named_place} ")  # "the burger place"
    restaurant_id, rest = p.catalog.find_restaurant(text)
    dietary = next((v for k, v in DIETARY_WORDS.items() if re.search(rf"\b{k}\b", text)), None)
    if _MENU.search(text) and not _PRICE.search(text):
        return Intent("menu", restaurant_id=restaurant_id)
    rest_text = " ".join(w for w in rest if w not in DIETARY_WORDS and w != "gluten")
    named = p.items(_QUESTION.sub("", _PRICE.sub("", rest_text)))
    if dietary and (asked or not any(i.item_id for i in named)):
        query = " ".join(i.phrase for i in named if i.item_id)
        asked_about = tuple(i for i in named if i.item_id)  # "is the acai bowl vegan?": in focus
        if not asked_about:  # "which pasta is vegan?": the one dish of that kind, in focus
            asked_about = _one_of_kind(p, text)
            query = " ".join(i.phrase for i in asked_about) or query
        return Intent(
            "search", asked_about, restaurant_id=restaurant_id, dietary=dietary, query=query
        )
    if (asked or _PRICE.search(text)) and not _ORDER_VERB.search(text):
        query = " ".join(i.phrase for i in named) or _strip_question(text)
        # "what does the X cost": the X is the item asked about ("one please" orders it)
        named = named or tuple(i for i in p.items(query) if i.item_id)
        return Intent("search", named, restaurant_id=restaurant_id, query=query)
    return None


def _one_of_kind(p: IntentParser, text: str) -> tuple[ItemRequest, ...]:
    """The dish the kinds said name together, when they name exactly one."""
    pick = p.selector.read(text)
    ids = pick.on_menu(p.catalog) if pick is not None and pick.kinds is not None else []
    if len(ids) != 1:
        return ()
    return (ItemRequest(p.catalog.items[ids[0]].name.lower(), ids[0]),)


def _order(p: IntentParser, text: str) -> Intent | None:
    if re.search(r"(?:^|, )(?:not|no) \d", text):
        return None  # "not three rolls, two" that no rule could read: never an order
    if PARTY.fullmatch(re.sub(r"^(?:ok |so |well )?(?:there are |there's )?", "", text).strip()):
        return Intent("party")  # "we're three": said before what each will have
    same_size = _SAME_SIZE.search(text) is not None
    if same_size:
        text = _SAME_SIZE.sub(" ", text).strip(" ,")
    people, stated = party_size(text), PARTY.search(text) is not None
    if people is not None:  # "we're five people, …", "it's me and my two kids, …"
        text = PEOPLE.sub(" ", PARTY.sub(" ", text))
    each = _EACH.search(text)
    if each is not None:  # "tacos and a small coke each": the coke, one per person
        marked = _each_one(p.items(text[: each.start()]), p.items(text[each.end() :]))
        if marked is not None:
            return Intent("order", items=marked, each=True, quantity=people)
    named = p.items(text)
    if named and stated and len(named) == 1 and named[0].item_id:
        # "a falafel bowl for the 4 of us"
        return Intent("order", items=(replace(named[0], each=True),), each=True, quantity=people)
    if named and (
        any(i.item_id or i.ambiguous for i in named)
        or _ORDER_VERB.search(text)
        or any(i.counted or i.unclear for i in named)
        or re.match(r"(?:a|an|some) \w", text)  # "a margarita", "a big mac": look it up
    ):
        return Intent("order", items=named, same_size=same_size)
    return None


def _each_one(
    before: tuple[ItemRequest, ...], after: tuple[ItemRequest, ...]
) -> tuple[ItemRequest, ...] | None:
    """The items with the one "each" belongs to marked: the dish said just before the word, else
    the one just after ("we each want a large coke")."""
    if before and before[-1].item_id:
        return (*before[:-1], replace(before[-1], each=True), *after)
    if after and after[0].item_id:
        return (*before, replace(after[0], each=True), *after[1:])
    return None


RULES: tuple[Rule, ...] = (
    _short_reply, _note_on_line, _refuse_then, _double, _out_and_in, _not_but, _sequence, _undo, _clear, _review, _places, _picked,
    _same_as_me, _negate, _remove, _change, _more, _cart_or_profile, _answer, _question, _order,
)  # fmt: skip


def _size_for_all(part: str) -> str | None:
    """ "all large", "both medium", "large for all" -> that size."""
    m = _ALL_SIZED.match(part)
    return SIZE_WORDS.get(m.group(1) or m.group(2)) if m else None


def _same_item(a: ItemRequest, b: ItemRequest) -> bool:
    return (
        a.item_id is not None
        and (a.item_id, a.size) == (b.item_id, b.size)
        and not (a.counted or b.counted)
    )


_SIZE_FILLER = frozenset((
    "a", "an", "the", "1", "please", "make", "it", "size", "ok", "okay", "that", "thanks", "thank",
    "you", "one", "for", "me", "go", "with", "both", "all", "each", "of", "them", "those", "uh",
    "um", "i", "guess", "think", "lets", "hmm", "well", "then", "just", "alright", "great",
    "perfect", "sure", "cool", "sounds", "good", "have", "got", "ones", "in",
))  # fmt: skip


def size_only(text: str) -> str | None:
    """ "large", "a large one please", "medium", "both large" -> that size; None if it says more."""
    ws = [w for w in words(text) if w not in _SIZE_FILLER]
    if len(ws) == 1 and ws[0] in SIZE_WORDS:
        return SIZE_WORDS[ws[0]]
    return None


def fit_size(size: str | None, item: MenuItem | None) -> str | None:
    """A one-size-fits item's only size; "regular" means medium; a size on a one-size item is
    passed on for the tool to refuse."""
    if item is not None and size is None and item.has_sizes and len(item.sizes) == 1:
        return item.sizes[0]
    if size is not None and size not in SIZES:
        return None
    return size


def _strip_question(text: str) -> str:
    text = _PRICE.sub("", _QUESTION.sub("", text))
    return " ".join(w for w in words(text) if w not in _FILLER).strip()
