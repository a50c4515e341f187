"""Every redirect target taken from a request goes through rapport.core.redirects.safe_next
(or safe_on_origin, for an allow-listed site's own URL): a source scan, so a new view that
follows `next`/`back` raw fails here, not in production."""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2]
_FROM_REQUEST = r"(request\.(GET|POST|META|headers)|\bpost\.get)"
RAW = [
    # redirect(request.POST.get("next")) and the like, on one line.
    re.compile(
        r"(redirect|HttpResponseRedirect)\((?!\s*safe_(?:next|on_origin))[^\n]*" + _FROM_REQUEST
    ),
    # back = request.POST.get("back") or …, followed later (the merge form's old code).
    re.compile(
        r"\b(back|next|next_url|redirect_to)\s*=(?!\s*safe_(?:next|on_origin))[^\n]*"
        + _FROM_REQUEST
    ),
]


def _raw(line: str) -> bool:
    return any(pattern.search(line) for pattern in RAW)


def test_no_view_takes_a_redirect_target_from_the_request_without_safe_next():
    offenders = [
        f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}"
        for path in PACKAGE.rglob("*.py")
        if "tests" not in path.parts
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if _raw(line)
    ]
    assert offenders == []


def test_the_scan_knows_the_raw_forms_and_accepts_safe_next():
    assert _raw('    back = request.POST.get("back") or reverse("dedupe:queue")')
    assert _raw('        return redirect(request.GET.get("next", "/"))')
    assert _raw("    return HttpResponseRedirect(request.META['HTTP_REFERER'])")
    assert not _raw('    back = safe_next(request, post.get("back"), reverse("dedupe:queue"))')
    assert not _raw('    return redirect(safe_next(request, request.POST.get("next"), "/"))')


def test_safe_on_origin_accepts_only_urls_on_that_exact_origin():
    from rapport.core.redirects import safe_on_origin

    site = "https://shop.example"
    assert (
        safe_on_origin("https://shop.example/thanks", origin=site) == "https://shop.example/thanks"
    )
    for hostile in (
        "https://shop.example.evil.tld/x",
        "https://evil.tld/https://shop.example/",
        "http://shop.example/thanks",  # another scheme is another origin
        "https://shop.example\\@evil.tld/",
        "https://shop.example/\nSet-Cookie:x",
        "",
        None,
    ):
        assert safe_on_origin(hostile, origin=site) is None, hostile
