"""Development and test stand-ins: the embedded Tansu broker and SecantusDB, and `make run`."""
