"""The customer-facing survey pages: views, texts, templates, stylesheet and security headers."""
