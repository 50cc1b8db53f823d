"""The people's side: a citizen portal and an officer console, server-rendered, that use the five
services' public HTTP APIs like any other client."""
