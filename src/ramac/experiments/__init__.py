"""Many runs at once: sweep files, the Ray engine that runs them, and the report that gathers them."""
