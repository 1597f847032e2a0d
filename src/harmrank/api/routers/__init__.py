"""One router per resource of the API (SPEC section 7), and the web pages."""
