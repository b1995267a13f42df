"""Civic's website, served by the gateway beside the API (`/` and below; the API stays
at /api/v1). Server-rendered from Jinja2 templates, works without JavaScript, Swedish
first and English, WCAG 2.1 AA.

- `handler`: how a page is declared (`web`), the request as a page sees it (`Page`),
  sessions by cookie, CSRF tokens, one submission per rendered form, error pages;
- `render`, `i18n`, `labels`, `forms`: templates, languages, the words for the
  services' fixed values, forms shown again with their errors;
- `*_pages.py`: the pages, one mixin of `GatewayService` per area, like the API's
  `*_routes.py` — they call the services over the same RPC clients, and the services
  decide what the visitor may do.
"""
