#!/usr/bin/env python3
"""Discover a CalDAV account's principal, calendar home and default calendar.

usage: discover.py URL USER PASS

Plain PROPFINDs with HTTP Basic auth (standard library only, so it does not
depend on the client library under test):
  1. DAV:current-user-principal on URL (if URL does not answer it, on
     URL's /.well-known/caldav, following redirects by hand - urllib does not
     redirect PROPFIND);
  2. CALDAV:calendar-home-set on the principal;
  3. Depth 1 on the home: the calendar collections in it; CALENDAR_URL is the
     one whose last path segment is "default", else the first one, else empty.
Prints PRINCIPAL_URL=, HOME_URL=, CALENDAR_URL= (absolute URLs).  Exits 1 with
a message on stderr when the principal or the home cannot be found.
"""
import base64
import sys
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

NS = {"d": "DAV:", "c": "urn:ietf:params:xml:ns:caldav"}


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None


OPENER = urllib.request.build_opener(NoRedirect)


def propfind(url, user, pw, props, depth="0", hops=5):
    body = ('<?xml version="1.0" encoding="utf-8"?><d:propfind xmlns:d="DAV:" '
            'xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop>' + props +
            '</d:prop></d:propfind>')
    req = urllib.request.Request(url, data=body.encode(), method="PROPFIND")
    req.add_header("Depth", depth)
    req.add_header("Content-Type", "application/xml; charset=utf-8")
    tok = base64.b64encode(f"{user}:{pw}".encode()).decode()
    req.add_header("Authorization", f"Basic {tok}")
    try:
        with OPENER.open(req, timeout=30) as r:
            return url, ET.fromstring(r.read())
    except urllib.error.HTTPError as e:
        if e.code in (301, 302, 303, 307, 308) and hops > 0 and e.headers.get("Location"):
            return propfind(urllib.parse.urljoin(url, e.headers["Location"]), user, pw,
                            props, depth, hops - 1)
        raise


def href_of(tree, path):
    el = tree.find(path, NS)
    if el is None or not (el.text or "").strip():
        return None
    return el.text.strip()


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    url, user, pw = sys.argv[1:4]
    if not url.endswith("/"):
        url += "/"
    cup = "<d:current-user-principal/>"
    principal = None
    errors = []
    for cand in (url, urllib.parse.urljoin(url, "/.well-known/caldav")):
        try:
            final, t = propfind(cand, user, pw, cup)
        except (urllib.error.URLError, ET.ParseError, OSError) as e:
            errors.append(f"{cand}: {e}")
            continue
        href = href_of(t, ".//d:current-user-principal/d:href")
        if href:
            principal = urllib.parse.urljoin(final, href)
            break
        errors.append(f"{cand}: no current-user-principal")
    if not principal:
        print("discovery failed: " + "; ".join(errors), file=sys.stderr)
        return 1
    try:
        _, t = propfind(principal, user, pw, "<c:calendar-home-set/>")
        home = href_of(t, ".//c:calendar-home-set/d:href")
        if not home:
            print(f"discovery failed: no calendar-home-set on {principal}", file=sys.stderr)
            return 1
        home = urllib.parse.urljoin(principal, home)
        if not home.endswith("/"):
            home += "/"
        _, t = propfind(home, user, pw, "<d:resourcetype/>", depth="1")
    except (urllib.error.URLError, ET.ParseError, OSError) as e:
        print(f"discovery failed: {e}", file=sys.stderr)
        return 1
    cals = []
    for resp in t.findall("d:response", NS):
        href = resp.findtext("d:href", default="", namespaces=NS).strip()
        if resp.find(".//d:resourcetype/c:calendar", NS) is not None and href:
            cals.append(urllib.parse.urljoin(home, href))
    cal = next((c for c in cals if c.rstrip("/").rsplit("/", 1)[-1] == "default"),
               cals[0] if cals else "")
    print(f"PRINCIPAL_URL={principal}")
    print(f"HOME_URL={home}")
    print(f"CALENDAR_URL={cal}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
