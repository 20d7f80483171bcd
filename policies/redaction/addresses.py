"""Street addresses and the places that follow them, offline: per-country address grammars.

A street line is one of three shapes, each anchored on a closed class of street-type words
(no list of street names is needed, so a street the lists never saw is still found):
- number first, type last (English-speaking countries): "1234 Hodges Mountain Suite 5",
  "15/4 Edward Expressway", "221B Baker Street", "350 5th Ave., Apt 3";
- number first, type first (French): "214, avenue Charlotte Gilles", "12 rue de la Paix";
- type first or a type-suffixed word, number last (German, Dutch, Nordic, Spanish, Italian,
  Portuguese, Polish, Romanian...): "Hauptstraße 5", "Berliner Str. 12a", "Storgatan 77",
  "Calle de Alcalá 23", "Via Roma, 12", "Travessa Borges, 87", "ul. Paderewskiego 77/3".
A place may follow (same line, next line, or "in ..."): "Springfield, IL 62704", "London SW1A
2AA", "Toronto, ON M5V 2T6", "10115 Berlin", "75002 Paris", "61-668 Kołobrzeg", "8631 BY
Schaijk", "1317-066 Mealhada". The street line is an ADDRESS, the place a LOCATION.

On their own, places are found in the shapes that say "place" without an address before them:
"City, ST 12345" with a US state code, a UK or Canadian postcode after a city name.

Not found: a street without a number ("on Main Street"), streets with no type word and no
number after ("Na Letné" alone), P.O. boxes, and addresses written in non-Latin scripts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import regex

_EN_TYPES = (
    "Alley Annex Arcade Avenue Bayou Beach Bend Bluff Bluffs Bottom Boulevard Branch Bridge Brook "
    "Brooks Burg Bypass Camp Canyon Cape Causeway Center Centre Circle Circuit Circles Cliff Cliffs "
    "Close Club Common Commons Concourse Corner Corners Course Court Courts Cove Coves Creek "
    "Crescent Crest Crossing Crossroad Crossroads Curve Dale Dam Divide Drive Drives Esplanade "
    "Estate Estates Expressway Extension Falls Ferry Field Fields Flat Flats Follow Ford Fords "
    "Forest Forge Fork Forks Fort Freeway Garden Gardens Gateway Glade Glen Glens Grange Green "
    "Greens Grove Groves Harbor Harbors Harbour Haven Heights Highway Hill Hills Hollow Inlet "
    "Island Islands Isle Junction Junctions Key Keys Knoll Knolls Lake Lakes Land Landing Lane "
    "Laneway Light Lights Loaf Lock Locks Lodge Loop Mall Manor Manors Meadow Meadows Mews Mill "
    "Mills Mission Motorway Mount Mountain Mountains Neck Orchard Oval Overpass Parade Park Parks "
    "Parkway Parkways Pass Passage Path Pathway Pike Pine Pines Place Plain Plains Plaza Point "
    "Points Port Ports Prairie Promenade Quay Quays Radial Ramp Ranch Rapid Rapids Reach Rest "
    "Retreat Ridge Ridges Rise River Road Roads Route Row Run Shoal Shoals Shore Shores Skyway "
    "Spring Springs Spur Spurs Square Squares Station Stravenue Stream Street Streets Summit "
    "Terrace Throughway Trace Track Trafficway Trail Trailer Tunnel Turnpike Underpass Union "
    "Unions Vale Valley Valleys Viaduct View Views Village Villages Ville Vista Walk Walks Wall "
    "Way Ways Well Wells Wharf Wynd Broadway Chase Drove Embankment Gate Gardens Nagar Chowk Marg "
    "Peth Bagh Lookout Reserve Cutting Outlook Ramble Amble Approach Brace Break Brow Copse Cross "
    "Cruiseway Dell Edge Elbow End Entrance Fairway Formation Frontage Gap Interchange Link "
    "Meander Nook Pocket Quadrant Return Round Serviceway Steps Strip Turn Walkway Ridgeway "
    "Heath Rowe Yard Passage Pathway Terrace Fall Tor Byway Villas Triangle Centers Burgs Rue Bank "
    "Banks Terraces Tower Towers Extensions Plateau Crossway Underpass Quad "
    # Australian and New Zealand road types (Faker's en_AU and en_NZ locale data), without
    # those that are mostly other words after a number ("3 Grant Access", "Step 2 Lower")
    "Alleyway Anchorage Artery Basin Brae Centreway Circlet Circus Colonnade Corso Courtyard "
    "Cul-de-sac Driveway Firetrail Footway Foreshore Gates Gully Highroad Lees Line Mew "
    "Parklands Piazza Quadrangle Ride Ring Riverway Riviera Roadside Roadway Ronde Rotary "
    "Siding Slope Stairs Strand Subway Tarn Thoroughfare Tollway Trunkway Wade Forges"
).split()
_EN_ABBREVIATIONS = (
    "Aly Anx Arc Ave Av Byu Bch Blf Blvd Br Brg Brk Byp Cp Cyn Cpe Cswy Ctr Cir Clf Clb Cmn Cor "
    "Crse Ct Cts Cv Crk Cres Crst Xing Cv Dl Dm Dv Dr Drs Est Ests Expy Exp Ext Fls Fry Fld Flds "
    "Flt Frd Frst Frg Frk Ft Fwy Gdn Gdns Gtwy Gln Grn Grv Hbr Hvn Hts Hwy Hl Hls Holw Is Jct Ky "
    "Knl Lk Lks Lndg Ln Lgt Lck Ldg Mnr Mdw Mdws Ml Mls Msn Mtwy Mt Mtn Mtns Nck Orch Pkwy Pky "
    "Pl Pln Plz Pt Prt Pr Rnch Rpd Rst Rdg Riv Rd Rds Rte Shl Shr Skwy Spg Spgs Sq Sta Stra Strm "
    "St Smt Ter Terr Trwy Trce Trak Trfy Trl Trlr Tunl Tpke Upas Un Vly Via Vis Vl Vlg Vw Wy"
).split()
_DIRECTIONS = (
    r"(?:N|S|E|W|NE|NW|SE|SW|North|South|East|West|Northeast|Northwest|Southeast|Southwest)\.?"
)


def _words(words: list[str], *, upper: bool = True, dot: bool = False) -> str:
    variants = set()
    for word in words:
        variants.add(word)
        if upper:
            variants.add(word.upper())
    body = "|".join(sorted(variants, key=lambda w: (-len(w), w)))
    return f"(?:{body})" + (r"\.?" if dot else "")


_EN_TYPE = rf"(?:{_words(_EN_TYPES)}|{_words(_EN_ABBREVIATIONS, dot=True)})"
_NUMBER = r"\d{1,6}[A-Za-z]?(?:[-/]\d{1,5}[A-Za-z]?)?"
_CAP = r"(?:\p{Lu}[\p{L}'’]*(?:-\p{Lu}?[\p{L}'’]+)*\.?)"
_ORDINAL = r"(?:\d{1,3}(?:st|nd|rd|th|ST|ND|RD|TH))"
_UNIT_WORDS = (
    r"(?:Apt\.?|APT\.?|Apartment|Suite|SUITE|Ste\.?|STE\.?|Unit|UNIT|Flat|Fl\.?|Floor|Level|"
    r"Room|Rm\.?|Bldg\.?|Building|Lot|Block|Piso|Puerta|Portal|Escalera|Bajo|Interior|Depto\.?|"
    r"Edif\.?|Appartamento|Piano|Scala|Interno|Apto\.?|Casa|Bloco|Sala|Stock|Whg\.?|Studio|RD|m\.|lok\.|#)"
)
_UNIT = rf"(?:[ \t]*,?[ \t]+{_UNIT_WORDS}(?![\p{{L}}])[ \t]*[\w-]{{1,6}}\.?)*"
_UNIT_NUMBER = rf"(?:{_UNIT_WORDS}(?![\p{{L}}])[ \t]*[\w-]{{1,6}},?[ \t]+(?:{_NUMBER},?[ \t]+)?|{_NUMBER},?[ \t]+)"
_FR_TYPES = (
    "rue avenue av boulevard bd place chemin allée allee impasse quai route cours square "
    "passage voie sentier faubourg villa cité cite résidence residence promenade esplanade "
    "Rue Avenue Boulevard Chemin Allée Impasse Quai Cité"
).split()
_LEADING_TYPES = (
    "Calle C/ C. Vale Avenida Avda Av Avd Paseo Plaza Camino Carrera Carretera Callejón Callejon Ronda "
    "Travesía Travesia Rambla Glorieta Vía Via Viale Piazza Piazzale Corso Vicolo Largo Contrada "
    "Strada Borgo Rotonda Salita Lungomare Rua R Travessa Praça Praca Alameda Estrada Rodovia "
    "Beco Ladeira Quadra Vila Loteamento Conjunto Setor Campo Fazenda Lagoa Rue Avenue Boulevard "
    "Chemin Route Place Allée Impasse Quai ulica ul aleja al plac pl osiedle os rynek Calea "
    "Bulevardul Bd Soseaua Șoseaua Splaiul Piata Piața Aleea Intrarea Strada Str Jalan Jl Gang "
    "Gg Continuación Continuacion Circuito Privada Prolongación Prolongacion Cerrada Andador "
    "Retorno Diagonal Ampliación Ampliacion Calzada Periférico Periferico Eje Viaducto Corredor "
    "Pasaje Pasadizo Vial Cañada Colônia Colonia Condomínio Condominio Aeroporto Favela Chácara "
    "Chacara Sítio Sitio Núcleo Nucleo Residencial Jardim Parque Recanto Vereda Trecho Quinta "
    "Urbanización Urbanizacion Polígono Poligono Partida Barrio Grupo Sendero Senda Bajada Cuesta "
    "Plazuela Canale Stretto Incrocio Pátio Patio Área Area Feira Estação Estacao Praia Morro Esplanada Circunvalación Circunvalacion Blvd Am An Auf Im In Zum Zur Unter Hinter Vor Bei Gata Gatan Vej Vägen Katu Tie "
    "Utca Út Ulitsa Ulica Cesta Trg Náměstí Nábřeží Třída Peatonal Acceso Transversal Psje "
    "Blv Diag Drumul Viaduto Viela Passarela Trevo Avenija Trieda Námestie Nábrežie"
).split()
_SUFFIXES = (
    "straße strasse str. gasse weg platz allee ring damm ufer steig pfad chaussee markt graben "
    "berg hof tor zeile wall stieg kamp feld anger garten höhe grund straat laan plein gracht "
    "kade singel dreef steeg pad dijk dyk kanaal boulevard gatan vägen gränd torget stigen "
    "backe backen plan gade vej allé torv stræde plads vænget veien vegen gata gate bakken faret "
    "stien lia svingen tunet haugen tie katu kuja polku väylä raitti rinne kaari tori ranta "
    "straede vaenget alléen alleen lyngen røa gjerdet havna skrenten bulevardi puistotie "
    "katu tie vegen veien kroken svingen jordet tunet lia åsen haugen baan wal hoek plassen plass "
    "stranda strand moen kollen løkka enga myra dalen berget holmen bråten tjernet grenda "
    "toppen sletta eggen engen ekra flata gropa hagen holtet høgda lunden marka ringen roa "
    "skogen spranget stubben stykket vollen vika lei tér köz körút sétány"
).split()
_CITY = (
    r"(?:(?:da|de|do|dos|das|la|le|el|los|las|san|l'|d')[ \t])?\p{Lu}[\p{L}'’.-]*(?:(?<![\p{L}]{4}\.)[ \t](?:\p{Lu}[\p{L}'’.-]*|(?:de|da|do|del|la|le|sur|am|an|der|im|bei|"
    r"nad|pod|upon|on|en|y|los|las|di|sul|in|dos|das)(?![\p{L}])))*"
)
_US_STATES = (
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ "
    "NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY AS GU MP PR VI UM FM MH PW AA AE "
    "AP AB BC MB NB NL NS NT NU ON PE QC SK YT ACT NSW QLD SA TAS VIC WA"
).split()
_STATE = "(?:" + "|".join(sorted(set(_US_STATES), key=lambda w: (-len(w), w))) + ")"
_UK_POSTCODE = r"[A-Z]{1,2}\d[A-Z\d]?[ \t]?\d[A-Z]{2}"
_CA_POSTCODE = r"[A-Z]\d[A-Z][ \t]?\d[A-Z]\d"
_PLACE_AFTER = (
    rf"(?:(?:[A-Z]{{1,2}}-)?\d{{4,5}}(?:[ \t]?[A-Z]{{2}}(?![\w]))?|\d{{2}}-\d{{3}}|\d{{4}}-\d{{3}}|\d{{5}}-\d{{3,4}}|\d{{3}}[ \t]\d{{2}}|\d{{8}}),?[ \t]+{_CITY}(?:[ \t]\([A-Z]{{2}}\))?"
    rf"|{_CITY},?[ \t]+(?:{_STATE}\.?,?[ \t]+)?(?:\d{{5}}(?:-\d{{4}})?|{_CA_POSTCODE}|{_UK_POSTCODE}|[A-Z]\d{{2}}[ \t]?[A-Z\d]{{4}}|\d{{4,6}})(?![\w])"
    rf"|{_CITY},[ \t]+{_STATE}(?![\w])"
)
_CONTINUATION = regex.compile(
    rf"(?:[ \t]*,[ \t]*(?:\r?\n[ \t>]*)?|[ \t]*\r?\n[ \t>]*|[ \t]+|[ \t]+in[ \t]+|[ \t]*\([ \t]*|[ \t]*[-–][ \t]*)(?P<place>{_PLACE_AFTER})"
)
_POSTCODE_PLACE = rf"(?:(?:[A-Z]{{1,2}}-)?\d{{4,5}}(?:[ \t]?[A-Z]{{2}}(?![\w]))?|\d{{2}}-\d{{3}}|\d{{4}}-\d{{3}}|\d{{5}}-\d{{3,4}}|\d{{3}}[ \t]\d{{2}}|\d{{8}}),?[ \t]+{_CITY}"
_POSTCODE_AFTER = regex.compile(
    rf"(?:[ \t]*,[ \t]*(?:\r?\n[ \t]*)?|[ \t]*\r?\n[ \t]*)(?P<place>{_POSTCODE_PLACE})"
)
_NUMBER_TOKEN = re.compile(_NUMBER)  # the standard library scans this simple class faster
_UNIT_AFTER = regex.compile(_UNIT)
_BARE_INTERIOR = re.compile(r"[ \t]+\d{1,4}(?=[ \t]*(?:[,;)\r\n]|\.(?:\s|$)|$))")
_TOKEN = re.compile(r"[^\s,;()\[\]{}<>\"'`|]+")
_ORDINAL_RE = re.compile(r"\d{1,3}(?:st|nd|rd|th|ST|ND|RD|TH)\.?$")
_SMALL_NUMBER = re.compile(r"\d{1,3}\.?$")
_EN_TYPE_SET = frozenset(
    [w for t in _EN_TYPES for w in (t, t.upper())]
    + [w for a in _EN_ABBREVIATIONS for w in (a, a.upper(), a + ".", a.upper() + ".")]
)
_DIRECTION_SET = frozenset(
    "N S E W NE NW SE SW N. S. E. W. North South East West Northeast Northwest Southeast "
    "Southwest".split()
)
_FR_TYPE_SET = frozenset(_FR_TYPES) | frozenset(t + "." for t in ("av", "bd"))
_LEADING_SET = frozenset(t.lower() for t in _LEADING_TYPES) | frozenset(
    t.lower() + "." for t in _LEADING_TYPES
)
# Leading words that are also English or German function words: the street name after them
# must not be a common English word ("In Section 5", "Via HTTP 2", "An Error 404").
_AMBIGUOUS_LEADING = frozenset(
    "am an auf im in zum zur unter hinter vor bei place route via vale campo casa gang trecho "
    "quadra grupo partida conjunto setor parque jardim residencial c. r str avenue boulevard "
    "plaza circuito eje diagonal corredor".split()
)
_CONNECT_SET = frozenset(
    "de del della delle dei degli di da das do dos der den dem la le les du des d' l' e y i "
    "las los".split()
)
_SUFFIX_ENDINGS = tuple(_SUFFIXES) + tuple(s.capitalize() for s in _SUFFIXES)
_SUFFIX_WORDS = frozenset(_SUFFIXES)
_UNIT_SET = frozenset(
    "apt apartment suite ste unit flat fl floor level room rm bldg building lot block piso "
    "puerta portal escalera bajo interior depto edif appartamento piano scala interno apto casa "
    "bloco sala stock whg studio rd #".split()
)
_US_PLACE = re.compile(r",[ \t]*([A-Z]{2,3})[ \t]+(\d{5}(?:-\d{4})?)(?![\w-])")
# The UK and Canadian shapes may not follow a word character or "-": checked by _left_free, not
# with a look-behind, which makes the engine try every position (measured ~5x slower).
_UK_PLACE = re.compile(r"([A-Z]{1,2}\d[A-Z\d]?[ \t]?\d[A-Z]{2})(?![\w-])")
_CA_PLACE = re.compile(r"([A-Z]{2})[ \t]+([A-Z]\d[A-Z][ \t]?\d[A-Z]\d)(?![\w-])")
_STATE_SET = frozenset(_US_STATES)


def _common(word: str) -> bool:
    from policies.redaction.gazetteer import gazetteer

    return word.lower().strip(".,") in gazetteer().common


def _cap(token: str) -> bool:
    return token[:1].isupper() and token.translate(_NAME_PUNCTUATION).isalpha()


_NAME_PUNCTUATION = str.maketrans("", "", "-'’.")


_WORD = re.compile(r"[^\s=\"'`()\[\]{}<>|;,]+")


def _tokens(text: str, start: int, end: int) -> list[tuple[str, int, int]]:
    """The words of text[start:end] with their offsets (quotes, brackets, "=" and commas
    separate words: `input="Hauptstraße 5`, `'1234 Main St',`)."""
    return [(m.group(), m.start(), m.end()) for m in _WORD.finditer(text, start, end)]


def find_addresses(text: str) -> list[tuple[int, int, str]]:
    """(start, end, "ADDRESS" | "LOCATION") spans, street lines and the places after them.

    Every street line here has a house number: the scan visits number tokens (a C-speed
    search) and reads the words next to each against sets of street-type words, instead of
    running large alternations at every position of the text (measured: 1-3 ms per KB for
    such a regex, against ~0.1 here)."""
    found: list[tuple[int, int, str]] = []
    reach = 0
    for number in _NUMBER_TOKEN.finditer(text):
        n_start, n_end = number.span()
        if n_start < reach:
            continue
        before = text[n_start - 1] if n_start else ""
        if before and (before.isalnum() or before in ".:/@#-_$%"):
            continue
        after = text[n_end : n_end + 1]
        if (
            after.isalnum()
            or after in (":", "/", "-", "_", "%")
            or (after == "." and text[n_end + 1 : n_end + 2] not in (" ", "", "\n"))
        ):
            continue
        street = _street_at(text, n_start, n_end, before, after, reach)
        if street is None:
            continue
        start, end = street
        unit = _UNIT_AFTER.match(text, end)
        if unit is not None:
            end = unit.end()
        if text[end - 1 : end].isdigit():
            # A street that ends with its number may carry a bare interior number after it
            # (Mexico: "Calle Jalisco 404 887"), at the end of the line or before a comma.
            interior = _BARE_INTERIOR.match(text, end)
            if interior is not None:
                end = interior.end()
        found.append((start, end, "ADDRESS"))
        reach = end
        place = _CONTINUATION.match(text, end)
        if place is not None:
            found.append((place.start("place"), place.end("place"), "LOCATION"))
            reach = place.end("place")
    found.extend(_places_alone(text, found))
    return found


def _street_at(
    text: str, n_start: int, n_end: int, before: str, after: str, floor: int
) -> tuple[int, int] | None:
    """The street line whose house number is text[n_start:n_end], if there is one."""
    line_end = text.find("\n", n_end)
    line_end = len(text) if line_end < 0 else line_end
    if after in (" ", ",", "\t") and _letter_next(text, n_end):
        end = _number_first(text, n_end, min(line_end, n_end + 100))
        if end is not None:
            return _with_unit_before(text, n_start), end
    if before not in (" ", "\t") or not (
        text[n_start - 2 : n_start - 1].isalpha() or text[n_start - 2 : n_start - 1] in ".,"
    ):
        return None
    line_start = text.rfind("\n", 0, n_start) + 1
    words = _tokens(text, max(line_start, n_start - 100, floor), n_start)
    if words and words[-1][0] in ("No", "No.", "Nr", "Nr.", "nº", "n.", "n°"):
        words = words[:-1]
    if not words:
        return None
    start = _number_last(text, words)
    if start is not None:
        return start, n_end
    if _POSTCODE_AFTER.match(text, n_end) is not None:
        start = _generic(text, words, n_end)
        if start is not None:
            return start, n_end
    return None


def _letter_next(text: str, at: int) -> bool:
    """The first non-blank character after `at` (same line, after a comma) is a letter."""
    for char in text[at : at + 4]:
        if char in " ,\t":
            continue
        return char.isalpha()
    return False


def _with_unit_before(text: str, n_start: int) -> int:
    """Start of "Flat 9 ...", "Suite 840 600 ...": a unit and its number before the house number."""
    line_start = text.rfind("\n", 0, n_start) + 1
    words = _tokens(text, max(line_start, n_start - 30), n_start)
    for back in (1, 2, 3):
        if len(words) >= back and words[-back][0].lower().rstrip(".") in _UNIT_SET:
            return words[-back][1]
    return n_start


def _number_first(text: str, at: int, limit: int) -> int | None:
    """End of "1234 Hodges Mountain" / "214, avenue Charlotte Gilles" after the number."""
    words = _tokens(text, at, limit)[:7]
    if not words:
        return None
    first = words[0][0]
    if first in _FR_TYPE_SET or (first.rstrip(".") in _FR_TYPE_SET and first.endswith(".")):
        names = 0
        end = None
        for word, _s, e in words[1:]:
            if word in _CONNECT_SET or word.lower() in ("d'", "l'", "sur"):
                continue
            if not _cap(word):
                break
            names += 1
            end = e
        return end if names else None
    names = 0
    end = None
    for index, (word, _s, e) in enumerate(words):
        if index == 0 and word in _DIRECTION_SET:
            continue
        if end is not None and word == "RD":  # "12 Motukoro Street RD 4": rural delivery
            break
        if end is not None and word in _DIRECTION_SET:  # "1600 Pennsylvania Ave NW"
            end = e
            break
        if names and (word in _EN_TYPE_SET or word.rstrip(".") in _EN_TYPE_SET):
            end = e if word in _EN_TYPE_SET else e - (len(word) - len(word.rstrip(".")))
            if text[e - 1] == "," or text[e : e + 1] == ",":
                end = e - (text[e - 1] == ",")
                break
            continue
        if _cap(word) or _ORDINAL_RE.match(word):
            if end is not None:
                break
            names += 1
            continue
        break
    if end is not None and text[end - 1] == ",":
        end -= 1
    return end


def _number_last(text: str, words: list[tuple[str, int, int]]) -> int | None:
    """Start of "Calle de Alcalá 23" / "Hauptstraße 5" / "PO Box 12", ending before the number."""
    last = words[-1][0].rstrip(",")
    if (
        len(words) >= 2
        and last.lower() == "box"
        and words[-2][0].replace(".", "").upper() in ("PO", "POST")
    ):
        return words[-2][1]
    found = None
    for back in range(1, min(7, len(words)) + 1):
        word = words[-back][0].rstrip(",")
        lowered = word.lower()
        if lowered in _LEADING_SET and back >= 2:
            between = [w.rstrip(",") for w, _s, _e in words[-back + 1 :]]
            if all(_cap(w) or w in _CONNECT_SET or _SMALL_NUMBER.match(w) for w in between) and any(
                _cap(w) for w in between
            ):
                ambiguous = lowered.rstrip(".") in _AMBIGUOUS_LEADING
                if not ambiguous or (
                    word[:1].isupper() and not all(_common(w) for w in between if _cap(w))
                ):
                    found = words[-back][1]  # keep looking: the farthest type word starts it
        if not (
            _cap(word)
            or word in _CONNECT_SET
            or _SMALL_NUMBER.match(word)
            or lowered in _LEADING_SET
        ):
            break
    if found is not None:
        return found
    # "Hauptstraße 5", "Kaktus Allé 2", "Eino Leinon bulevardi 57": a street-type ending, or a
    # street-type word after a name.
    whole = last.lower() in _SUFFIX_WORDS
    if last.endswith(_SUFFIX_ENDINGS) and not _common(last) and (_cap(last) or whole):
        start = words[-1][1]
        names = 0
        for word, s, e in reversed(words[-4:-1]):
            if not _cap(word) or _common(word) or "," in text[e:start]:
                break
            start = s
            names += 1
        if not whole or names:
            return start
    return None


def _generic(text: str, words: list[tuple[str, int, int]], n_end: int) -> int | None:
    """Start of "Words 12" when a postcode and city follow: a street with no type word."""
    names = []
    following = n_end
    for word, s, e in reversed(words[-5:]):
        if "," in text[e:following] and names:
            break  # "Lloyd W. Stone, Bakkemoen 29": the street starts after the comma
        bare = word.rstrip(",")
        if _cap(bare) or (names and (bare in _CONNECT_SET or bare.islower())):
            names.append((bare, s))
            following = s
            continue
        break
    while names and not _cap(names[-1][0]):
        names.pop()
    if not names or _common(names[-1][0]):
        return None
    place = _POSTCODE_AFTER.match(text, n_end)
    if place is None or _common(place.group("place").split()[-1]):
        return None
    return names[-1][1]


def _left_free(pattern: re.Pattern[str], text: str, check: bool) -> Iterator[re.Match[str]]:
    """The matches of `pattern` that do not follow a word character or "-" (all of them when
    not `check`), searched again one position further after a refused one, as a look-behind
    would."""
    if not check:
        yield from pattern.finditer(text)
        return
    at = 0
    while True:
        match = pattern.search(text, at)
        if match is None:
            return
        start = match.start()
        if start and (text[start - 1].isalnum() or text[start - 1] in "_-"):
            at = start + 1
            continue
        yield match
        at = max(match.end(), start + 1)


def _places_alone(text: str, found: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """ "Springfield, IL 62704", "London SW1A 2AA", "Toronto, ON M5V 2T6" with no street before."""
    taken = [(s, e) for s, e, _t in found]
    out: list[tuple[int, int, str]] = []
    for pattern, state_group in ((_US_PLACE, 1), (_UK_PLACE, 0), (_CA_PLACE, 1)):
        for match in _left_free(pattern, text, pattern is not _US_PLACE):
            if state_group and match.group(state_group) not in _STATE_SET:
                continue
            anchor = match.start()
            if any(s <= anchor < e for s, e in taken):
                continue
            # The city is in the same cell: after the last separator of a table, a quote or
            # a bracket, and after any street found before it.
            floor = max(anchor - 60, max((e for _s, e in taken if e <= anchor), default=0))
            floor = max(floor, *(text.rfind(c, 0, anchor) + 1 for c in "\n;|\t\"'([{"))
            words = _tokens(text, floor, anchor)
            start = None
            for word, s, _e in reversed(words[-3:]):
                if not _cap(word.rstrip(",")):
                    break
                start = s
            if start is not None:
                out.append((start, match.end(), "LOCATION"))
                taken.append((start, match.end()))
    return out
