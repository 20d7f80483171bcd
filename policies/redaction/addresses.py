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
    "Banks Terraces Tower Towers Extensions"
).split()
_EN_ABBREVIATIONS = (
    "Aly Anx Arc Ave Av Byu Bch Blf Blvd Br Brg Brk Byp Cp Cyn Cpe Cswy Ctr Cir Clf Clb Cmn Cor "
    "Crse Ct Cts Cv Crk Cres Crst Xing Cv Dl Dm Dv Dr Drs Est Ests Expy Exp Ext Fls Fry Fld Flds "
    "Flt Frd Frst Frg Frk Ft Fwy Gdn Gdns Gtwy Gln Grn Grv Hbr Hvn Hts Hwy Hl Hls Holw Is Jct Ky "
    "Knl Lk Lks Lndg Ln Lgt Lck Ldg Mnr Mdw Mdws Ml Mls Msn Mtwy Mt Mtn Mtns Nck Orch Pkwy Pky "
    "Pl Pln Plz Pt Prt Pr Rnch Rpd Rst Rdg Riv Rd Rds Rte Shl Shr Skwy Spg Spgs Sq Sta Stra Strm "
    "St Smt Ter Terr Trwy Trce Trak Trfy Trl Trlr Tunl Tpke Upas Un Vly Via Vis Vl Vlg Vw Wy"
).split()
_DIRECTIONS = r"(?:N|S|E|W|NE|NW|SE|SW|North|South|East|West|Northeast|Northwest|Southeast|Southwest)\.?"


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
_UNIT_NUMBER = (
    rf"(?:{_UNIT_WORDS}(?![\p{{L}}])[ \t]*[\w-]{{1,6}},?[ \t]+(?:{_NUMBER},?[ \t]+)?|{_NUMBER},?[ \t]+)"
)
_EN_STREET = (
    rf"{_UNIT_NUMBER}(?:{_DIRECTIONS}[ \t]+)?(?:(?:{_CAP}|{_ORDINAL})[ \t]+){{1,4}}"
    rf"{_EN_TYPE}(?![\w'’])(?:[ \t]+{_DIRECTIONS}(?![\w]))?{_UNIT}"
)
_FR_TYPES = (
    "rue avenue av boulevard bd place chemin allée allee impasse quai route cours square "
    "passage voie sentier faubourg villa cité cite résidence residence promenade esplanade "
    "Rue Avenue Boulevard Chemin Allée Impasse Quai Cité"
).split()
_FR_STREET = (
    rf"{_NUMBER}(?:[ \t]?(?:bis|ter))?,?[ \t]+(?:{'|'.join(_FR_TYPES)})\.?[ \t]+"
    rf"(?:(?:de|du|des|de la|d'|l'|la|le|les)[ \t]*)?{_CAP}(?:[ \t-]+(?:{_CAP}|de|du|des|la|le|les|d'|l'|sur)){{0,5}}{_UNIT}"
)
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
    "Plazuela Praia Morro Esplanada Circunvalación Circunvalacion Blvd Am An Auf Im In Zum Zur Unter Hinter Vor Bei Gata Gatan Vej Vägen Katu Tie "
    "Utca Út Ulitsa Ulica Cesta Trg Náměstí Nábřeží Třída"
).split()
_LEADING_TYPE = "(?:" + "|".join(
    sorted({t for w in _LEADING_TYPES for t in (w, w.lower())}, key=lambda w: (-len(w), w))
) + r")\.?"
_CONNECT = r"(?:de|del|de la|de las|de los|della|delle|dei|degli|di|da|das|do|dos|der|den|dem|la|le|les|du|des|d'|l'|e|y|i|ul\.)"
_LEAD_STREET = (
    rf"{_LEADING_TYPE}[ \t]+(?:{_CONNECT}[ \t]+)?(?:{_CAP}|\d{{1,3}}\.?)(?:[ \t-]+(?:{_CAP}|{_CONNECT}|\d{{1,3}}\.)){{0,5}}"
    rf",?[ \t]+(?:No\.?[ \t]*|Nr\.?[ \t]*|nº[ \t]*|n\.?[ \t]*)?{_NUMBER}(?![\w.,]\d){_UNIT}"
)
_SUFFIXES = (
    "straße strasse str. gasse weg platz allee ring damm ufer steig pfad chaussee markt graben "
    "berg hof tor zeile wall stieg kamp feld anger garten höhe grund straat laan plein gracht "
    "kade singel dreef steeg pad dijk dyk kanaal boulevard gatan vägen gränd torget stigen "
    "backe backen plan gade vej allé torv stræde plads vænget veien vegen gata gate bakken faret "
    "stien lia svingen tunet haugen tie katu kuja polku väylä raitti rinne kaari tori ranta "
    "straede vaenget alléen alleen lyngen røa gjerdet havna skrenten bulevardi puistotie "
    "katu tie vegen veien kroken svingen jordet tunet lia åsen haugen"
).split()
_SUFFIX = (
    "(?:"
    + "|".join(
        regex.escape(v)
        for v in sorted({w for s in _SUFFIXES for w in (s, s.capitalize())}, key=lambda w: (-len(w), w))
    )
    + ")"
)
_SUFFIX_STREET = (
    rf"(?:{_CAP}[ \t-]){{0,3}}\p{{Lu}}[\p{{L}}-]*?{_SUFFIX}(?<=[\p{{L}}.])[ \t]+"
    rf"(?:No\.?[ \t]*|Nr\.?[ \t]*)?{_NUMBER}(?![\w.,]\d){_UNIT}"
)
_PO_BOX = r"(?:P\.?[ \t]?O\.?|Post[ \t]Office)[ \t]?Box[ \t]+\d{1,6}"
_STREET = regex.compile(
    rf"(?<![\w.:/@#-])(?P<street>{_EN_STREET}|{_FR_STREET}|{_LEAD_STREET}|{_SUFFIX_STREET}|{_PO_BOX})"
)

_CITY = (
    r"(?:(?:da|de|do|dos|das|la|le|el|los|las|san|l'|d')[ \t])?\p{Lu}[\p{L}'’.-]*(?:[ \t](?:\p{Lu}[\p{L}'’.-]*|(?:de|da|do|del|la|le|sur|am|an|der|im|bei|"
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
    rf"(?:(?:[A-Z]{{1,2}}-)?\d{{4,5}}(?:[ \t]?[A-Z]{{2}}(?![\w]))?|\d{{2}}-\d{{3}}|\d{{4}}-\d{{3}}|\d{{5}}-\d{{3}}|\d{{3}}[ \t]\d{{2}}|\d{{8}}),?[ \t]+{_CITY}(?:[ \t]\([A-Z]{{2}}\))?"
    rf"|{_CITY},?[ \t]+(?:{_STATE}\.?,?[ \t]+)?(?:\d{{5}}(?:-\d{{4}})?|{_CA_POSTCODE}|{_UK_POSTCODE}|[A-Z]\d{{2}}[ \t]?[A-Z\d]{{4}}|\d{{4,6}})(?![\w])"
    rf"|{_CITY},[ \t]+{_STATE}(?![\w])"
)
_CONTINUATION = regex.compile(
    rf"(?:[ \t]*,[ \t]*(?:\r?\n[ \t]*)?|[ \t]*\r?\n[ \t]*|[ \t]+|[ \t]+in[ \t]+|[ \t]*\([ \t]*|[ \t]*[-–][ \t]*)(?P<place>{_PLACE_AFTER})"
)
_PLACE_ALONE = regex.compile(
    rf"(?<![\w.-])(?P<place>{_CITY},[ \t]*{_STATE}[ \t]+\d{{5}}(?:-\d{{4}})?|{_CITY},?[ \t]+(?:{_UK_POSTCODE}|{_STATE}[ \t]+{_CA_POSTCODE}))(?![\w])"
)


# Any "Words 12, 10115 City": a street line with no type word, recognised by the postcode line
# after it. Its first word and the city may not be common English words ("Version 2, 12345 Users").
_POSTCODE_PLACE = (
    rf"(?:(?:[A-Z]{{1,2}}-)?\d{{4,5}}(?:[ \t]?[A-Z]{{2}}(?![\w]))?|\d{{2}}-\d{{3}}|\d{{4}}-\d{{3}}|\d{{5}}-\d{{3,4}}|\d{{3}}[ \t]\d{{2}}|\d{{8}}),?[ \t]+{_CITY}"
)
_GENERIC = regex.compile(
    rf"(?<![\w.:/@#-])(?P<street>{_CAP}(?:[ \t-]+(?:{_CAP}|{_CONNECT}|\p{{Ll}}{{3,}})){{0,4}},?[ \t]+{_NUMBER}{_UNIT})"
    rf"(?:[ \t]*,[ \t]*(?:\r?\n[ \t]*)?|[ \t]*\r?\n[ \t]*)(?P<place>{_POSTCODE_PLACE})"
)


def _common(word: str) -> bool:
    from policies.redaction.gazetteer import gazetteer

    return word.lower().rstrip(".") in gazetteer().common


def find_addresses(text: str) -> list[tuple[int, int, str]]:
    """(start, end, "ADDRESS" | "LOCATION") spans, street lines and the places after them."""
    found: list[tuple[int, int, str]] = []
    for match in _STREET.finditer(text):
        start, end = match.span("street")
        found.append((start, end, "ADDRESS"))
        place = _CONTINUATION.match(text, end)
        if place is not None:
            found.append((place.start("place"), place.end("place"), "LOCATION"))
    for match in _GENERIC.finditer(text):
        start, end = match.span("street")
        if any(s < end and start < e for s, e, _t in found):
            continue
        city = match.group("place").split()[-1]
        if _common(match.group("street").split()[0]) or _common(city):
            continue
        found.append((start, end, "ADDRESS"))
        found.append((match.start("place"), match.end("place"), "LOCATION"))
    taken = [(s, e) for s, e, _t in found]
    for match in _PLACE_ALONE.finditer(text):
        start, end = match.span("place")
        if not any(s < end and start < e for s, e in taken):
            found.append((start, end, "LOCATION"))
    return found
