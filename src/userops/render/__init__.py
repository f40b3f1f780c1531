"""Human output: terminal tables and (later) HTML. Formatting lives here, nowhere upstream."""
