"""Hostile text in exports: KML stays parseable and its descriptions inert, ClaimReview refuses script URLs,
and JSON-LD embedded in the report page cannot end its script element. Outputs are read back with real
parsers (expat via xml.etree, json, html.parser)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from overflight.case import Case
from overflight.case.export import export, kml_description, kml_text, to_kml
from overflight.errors import InputError
from overflight.evidence.claimreview import claim_review, claim_reviews, jsonld_script, safe_url
from overflight.evidence.model import Claim, Observation, Source
from overflight.report.build import build_context
from overflight.report.html import render_report
from overflight.zones import Provenance, Zone, ZoneSet

KML = "{http://www.opengis.net/kml/2.2}"
PAYLOADS = [
    "</description><script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">click</a>',
    "]]><!-- -->&amp;&lt;",
    "</script><script>alert(2)</script>",
    "<!--<script>",
    "</SCRIPT >x",
    "bell\x07 nul\x00 esc\x1b[31m vt\x0b ff\x0c del\x7f c1\x85\x9f",
    "line\u2028sep\u2029para\r\nwin\rmac",
    "\ufffe\uffff noncharacters",
    "emoji \U0001f6e9 and [/b] [link=https://evil.example]x[/link]",
]
BAD_URLS = [
    "javascript:alert(1)", "JaVaScRiPt:alert(1)", " javascript:alert(1)", "java\tscript:alert(1)",
    "java\nscript:alert(1)", "data:text/html,<script>alert(1)</script>", "vbscript:msgbox(1)", "file:///etc/passwd",
    "//evil.example/x", "/relative/path", "http://", "https:", "http://exa mple.com/", "ftp://files.example/x",
    'https://a.example/"onmouseover="alert(1)', "\x01https://a.example/", "https://a.example/\x00", "",
]
GOOD_URLS = ["https://mid.ru/", "http://example.com/a?b=c&d=e#f", "HTTPS://Example.COM/path"]
_ILLEGAL = re.compile("[^\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _sanitised(text: str) -> str:
    # What a reader gets back: illegal characters as U+FFFD, line ends normalised as XML parsers do.
    return _ILLEGAL.sub("\ufffd", text).replace("\r\n", "\n").replace("\r", "\n")


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False
        self.comments: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts[-1] += data
        else:
            self.text.append(data)

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)


def _html(doc: str) -> _Collect:
    p = _Collect()
    p.feed(doc)
    p.close()
    return p


# ---------------------------------------------------------------- KML


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF, categories=None)))
def test_kml_text_always_parses_and_reads_back(text: str) -> None:
    el = ET.fromstring(f"<a>{kml_text(text)}</a>".encode("utf-8", "surrogatepass"))
    assert (el.text or "") == _sanitised(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF, categories=None)))
def test_kml_description_is_inert_html_inside_valid_xml(text: str) -> None:
    el = ET.fromstring(f"<d>{kml_description(text)}</d>".encode("utf-8", "surrogatepass"))
    shown = _html(el.text or "")
    assert {t for t, _ in shown.tags} <= {"br"}  # the only markup is our line breaks
    assert "".join(shown.text) == _sanitised(text).replace("\n", "")


def test_lone_surrogates_become_replacement_characters() -> None:
    assert kml_text("a\ud800b\udfffc") == "a\ufffdb\ufffdc"


@pytest.fixture
def hostile(tmp_path: Path) -> Case:
    c = Case.create(tmp_path / "x&y<z>.duckdb", user="t")
    c.add_sources([Source(id="s-js", name="<b>Bold</b> source", kind="media", link="javascript:alert(1)",
                          reliability="B")])
    area = shapely.box(50, 50, 51, 51)
    claims = [Claim(id=f"c{i}", statement=s, claimant=s, source_id="s-js", what="transit", where_geometry=area,
                    date_made=datetime(2025, 6, 21, tzinfo=UTC), url=(BAD_URLS[i % len(BAD_URLS)] or None))
              for i, s in enumerate(PAYLOADS)]
    c.add_claims(claims)
    c.add_observations([Observation(id=f"o{i}", kind="sighting", source_id="s-js", lon=50.5, lat=50.5,
                                    time_start=datetime(2025, 6, 21, tzinfo=UTC), description=s)
                        for i, s in enumerate(PAYLOADS)])
    c.add_zones(ZoneSet([Zone(id=f"z{i}", name=s, kind="user", geometry=area) for i, s in enumerate(PAYLOADS)],
                        Provenance(name="hostile", version="1", licence="test", source="test", sha256="0" * 64)))
    c.evaluate()
    return c


def test_kml_export_of_hostile_text_parses_and_keeps_the_text(hostile: Case, tmp_path: Path) -> None:
    p = export(hostile, "kml", tmp_path / "out.kml", all_zones=True)  # every zone, cited or not
    root = ET.parse(p).getroot()  # expat: fails on any character XML 1.0 forbids
    assert root.find(f"{KML}Document/{KML}name") is not None
    names = {pm.findtext(f"{KML}name") for pm in root.iter(f"{KML}Placemark")}
    descs = [pm.findtext(f"{KML}description") or "" for pm in root.iter(f"{KML}Placemark")]
    for s in PAYLOADS:
        assert _sanitised(s) in names  # zone names: plain text
    for d in descs:
        assert {t for t, _ in _html(d).tags} <= {"br"}
    shown = {"".join(_html(d).text) for d in descs}
    for s in PAYLOADS:
        assert _sanitised(s).replace("\n", "") in shown
    assert to_kml(hostile, all_zones=True) == p.read_bytes().decode("utf-8")


# ---------------------------------------------------------------- ClaimReview and JSON-LD


@pytest.mark.parametrize("url", BAD_URLS)
def test_script_and_relative_urls_are_refused(url: str) -> None:
    assert safe_url(url) is None
    claim = Claim(id="c", statement="s", url=url or None)
    review = claim_review(claim, None)
    assert "appearance" not in review["itemReviewed"]
    with pytest.raises(InputError):
        claim_review(claim, None, reviewer_url=url)
    with pytest.raises(InputError):
        claim_review(claim, None, url=url)


@pytest.mark.parametrize("url", GOOD_URLS)
def test_http_urls_pass(url: str) -> None:
    assert safe_url(url) == url
    review = claim_review(Claim(id="c", statement="s", url=url), None, reviewer_url=url, url=url)
    assert review["itemReviewed"]["appearance"]["url"] == url and review["author"]["url"] == url


def test_claimreview_export_drops_the_bad_link_and_says_so(hostile: Case, tmp_path: Path) -> None:
    p = export(hostile, "claimreview", tmp_path / "cr.json", reviewer="Desk", url="https://desk.example/r")
    reviews = json.loads(p.read_text(encoding="utf-8"))
    assert len(reviews) == len(PAYLOADS)
    for r in reviews:
        url = r["itemReviewed"].get("appearance", {}).get("url")
        assert url is None or safe_url(url) == url
        if url is None:
            assert "link is left out" in r["reviewBody"]
    assert {r["claimReviewed"] for r in reviews} == set(PAYLOADS)  # text kept as data


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_jsonld_script_round_trips_and_cannot_close_early(text: str) -> None:
    doc = {"claimReviewed": text, "x": [text, "</script>", "<!--"]}
    page = f"<html><head>{jsonld_script(doc)}</head><body><p id=after>after</p></body></html>"
    parsed = _html(page)
    assert len(parsed.scripts) == 1 and json.loads(parsed.scripts[0]) == doc
    assert [t for t, _ in parsed.tags] == ["html", "head", "script", "body", "p"]
    assert "</" not in parsed.scripts[0] and "<!--" not in parsed.scripts[0]


def test_report_embeds_claimreview_safely(hostile: Case) -> None:
    assert "<script" not in render_report(build_context(hostile))  # by default no script at all
    page = render_report(build_context(hostile, claimreview=True))
    parsed = _html(page)
    scripts = [a for t, a in parsed.tags if t == "script"]
    assert scripts == [{"type": "application/ld+json"}]
    doc = json.loads(parsed.scripts[0])
    assert [r["claimReviewed"] for r in doc] == [r["claimReviewed"] for r in
                                                  claim_reviews(hostile.claims(), hostile.verdicts())]
    tags = {t for t, _ in parsed.tags}
    assert not tags & {"img", "a"}  # no user markup became elements
    assert not any(k.startswith("on") for _, a in parsed.tags for k in a)
    assert not any(a.get("href") for _, a in parsed.tags)  # no links at all, so none from user URLs
    body = "".join(parsed.text)
    for s in PAYLOADS[:3]:
        assert s in body
