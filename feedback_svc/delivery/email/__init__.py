"""Survey invitations by email: render a multipart message, hand it to an SMTP relay."""
