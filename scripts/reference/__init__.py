"""Reference model registries, one module per corpus: each has
`LIBRARIES` (the packages whose versions the table records) and `models()`
(script key -> (source text, constructor)). See scripts/reference_names.py."""
