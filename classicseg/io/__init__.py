"""Everything that touches the file system, cameras or streams: sources and sinks."""
