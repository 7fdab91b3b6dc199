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


def test_canonical_and_join_key():
    from medinject.textnorm import canonical, join_key

    nfd = unicodedata.normalize("NFD", "fièvre\u00a0&amp; to\u200bux")
    assert canonical(nfd) == "fièvre & toux" and canonical(None) == ""
    assert match_key("Fi&egrave;vre") == match_key("FIÈVRE")
    assert join_key(unicodedata.normalize("NFD", " cas-É\u200b ")) == "cas-É" and join_key(7) == "7"
