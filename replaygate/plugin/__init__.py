"""The pytest side: the suite plugin and the --optimize plugin, loaded through pytest11 entry points."""
