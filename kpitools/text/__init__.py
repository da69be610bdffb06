"""What a reader sees as words: the KPI catalogue, escaping and formatting, narratives."""
