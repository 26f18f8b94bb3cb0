"""The Co-ordinator's web console (issue 6): see docs/architecture.md, "The console".

app.py        the routes, the error page, the middleware
web.py        how a page is declared: session, role, CSRF, rendering
security.py   security headers, refusal of cross-site posts
auth.py       logging in and out, sessions, one-time links, lockout
passwords.py  argon2id hashing
access.py     roles and what each may do
fields.py     field labels, values in words, corrections normalised like the parsers'
documents.py  a form's document drawn for the page: PDF pages as PNG, Word as text blocks
services.py   what the pages work with (database, clock, decision policy, templates)
views/        the pages: login, queue, case, deciding, documents
"""
