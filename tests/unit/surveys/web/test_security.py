from feedback_svc.surveys.web.security import CONTENT_SECURITY_POLICY, security_headers


def test_the_policy_allows_our_stylesheet_and_forms_and_nothing_else() -> None:
    directives = {d.split()[0]: d.split()[1:] for d in CONTENT_SECURITY_POLICY.split("; ")}
    assert directives == {
        "default-src": ["'none'"],
        "style-src": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
    }


def test_security_headers_keep_the_token_out_of_referers_and_caches() -> None:
    headers = security_headers()
    assert headers == {
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }
    headers["X-Extra"] = "1"
    assert "X-Extra" not in security_headers()
