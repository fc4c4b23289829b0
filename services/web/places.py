"""Finding a place by what people type: a postcode or a town, matched against the accredited
venues' own addresses (no geocoding service: nothing leaves the platform). Plain functions."""

import unicodedata

SCORE_FROM = 5  # a venue's average is shown from this many ratings on


def fold(text):
    """``"Mérignac "`` -> ``"merignac"``: case, accents, hyphens and spaces folded."""
    text = unicodedata.normalize("NFKD", text or "").casefold()
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(text.replace("-", " ").replace("'", " ").split())


def locate(features, typed):
    """The point to search around for ``typed`` (a postcode, a town, or its start), from the
    venues' GeoJSON features: the centre of the venues of that postcode or town; None if none."""
    wanted = fold(typed)
    if not wanted:
        return None
    if wanted.isdigit():
        matches = [f for f in features if f["properties"]["postcode"].startswith(wanted)]
    else:
        matches = [f for f in features if fold(f["properties"]["city"]) == wanted] or [
            f for f in features if fold(f["properties"]["city"]).startswith(wanted)
        ]
    if not matches:
        return None
    lons = [f["geometry"]["coordinates"][0] for f in matches]
    lats = [f["geometry"]["coordinates"][1] for f in matches]
    return sum(lats) / len(lats), sum(lons) / len(lons)


def average(scores, venue_id):
    """``(average, count)`` of a venue's ratings once it has ``SCORE_FROM``, else None."""
    count, total = scores.get(venue_id, (0, 0))
    if count < SCORE_FROM:
        return None
    return round(total / count, 1), count


def point(lat, lon):
    """``"44.84,-0.58"`` from the query's ``lat``/``lon`` text, or None when they are not a point."""
    try:
        lat, lon = float(lat), float(lon)
    except (TypeError, ValueError):
        return None
    if -90 <= lat <= 90 and -180 <= lon <= 180:
        return f"{lat:.5f},{lon:.5f}"
    return None
