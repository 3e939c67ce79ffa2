"""The console e-mail backend of the embedded mode, printing each message as a person would read it.

Python's e-mail package (which Django 6 uses with ``email.policy.default``) keeps body lines within
the policy's ``max_line_length`` of 78 characters: a body with a longer line — an invitation link
is about 100 — is sent quoted-printable, whose soft line breaks (``=`` at the end of a line) cut
the link in two. A mail client decodes that and shows the link whole; the console shows the raw
transfer encoding, so the link printed there could not be followed. RFC 5322 allows lines of 998
characters, so here a message is rendered under that limit: plain text goes out as 7bit (or 8bit
for non-ASCII text) and every line, links included, stays whole. SMTP delivery is unchanged.
"""

from __future__ import annotations

import email.policy

from django.core.mail.backends import console

RFC5322_LINE_LIMIT = 998
READABLE = email.policy.default.clone(max_line_length=RFC5322_LINE_LIMIT)


class ConsoleEmailBackend(console.EmailBackend):
    """Django's console backend, with lines up to RFC 5322's limit instead of quoted-printable wrapping."""

    def write_message(self, message) -> None:
        msg = message.message(policy=READABLE)
        charset = msg.get_content_charset() or "utf-8"
        self.stream.write(msg.as_bytes().decode(charset, errors="replace") + "\n")
        self.stream.write("-" * 79)
        self.stream.write("\n")
