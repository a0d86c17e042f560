"""Response headers for the customer-facing pages.

The pages need nothing but their own stylesheet and their own forms, so the policy
allows exactly that: no scripts, no inline styles, no frames, no foreign hosts.
"""

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def security_headers() -> dict[str, str]:
    """Headers for every survey page response (a fresh dict the caller may extend)."""
    return {
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Content-Type-Options": "nosniff",
        # the survey token is in the URL: never hand it to another site in a Referer
        "Referrer-Policy": "no-referrer",
        # pages show a customer's answer: no shared or back-button caches keep them
        "Cache-Control": "no-store",
    }
