import unicodedata

from medinject.textnorm import clean, decode_entities, has_entities, match_key, strip_invisible


def test_clean_nfc_spaces_crlf_bom():
    nfd = unicodedata.normalize("NFD", "\ufeffprotéine\u00a0C\r\nfin\rx")
    assert clean(nfd) == "protéine C\nfin\nx"
    assert clean(clean(nfd)) == clean(nfd)


def test_entities_decoded_and_counted():
    assert has_entities("a &lt; b") and not has_entities("AT&T sans entité")
    assert decode_entities("a &lt; b &eacute;t&#233;") == "a < b été"


def test_match_key_ignores_invisible_case_and_spacing():
    assert match_key("Hypo\u00adkaliémie\u200b  Sévère") == match_key("hypokaliémie sévère")
    assert strip_invisible("a\u200bb") == "ab"
    assert match_key(None) == ""
